//! Named styles in one place; `NO_COLOR` gives a theme without colours.

use ratatui::style::{Color, Modifier, Style};

/// The console's styles.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    /// Pane borders.
    pub border: Style,
    /// The focused pane's border.
    pub focus: Style,
    /// Good news (✓, connected).
    pub ok: Style,
    /// A warning.
    pub warn: Style,
    /// A failure.
    pub bad: Style,
    /// Secondary text.
    pub dim: Style,
    /// Tool events.
    pub tool: Style,
    /// Connection events.
    pub link: Style,
}

impl Theme {
    /// Colours, unless `no_color`.
    #[must_use]
    pub fn new(no_color: bool) -> Theme {
        if no_color {
            let plain = Style::default();
            return Theme {
                border: plain,
                focus: plain.add_modifier(Modifier::BOLD),
                ok: plain,
                warn: plain.add_modifier(Modifier::BOLD),
                bad: plain.add_modifier(Modifier::BOLD | Modifier::REVERSED),
                dim: plain,
                tool: plain,
                link: plain,
            };
        }
        Theme {
            border: Style::default().fg(Color::DarkGray),
            focus: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            ok: Style::default().fg(Color::Green),
            warn: Style::default().fg(Color::Yellow),
            bad: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            dim: Style::default().fg(Color::DarkGray),
            tool: Style::default().fg(Color::Magenta),
            link: Style::default().fg(Color::Blue),
        }
    }
}
