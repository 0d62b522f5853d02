//! "Did you mean" hints for misspelt keys, variables and values.

/// The closest candidate to `word`, when it is close enough to be a likely typo.
#[must_use]
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Jaro-Winkler rewards a shared prefix, which fits typos in names like `heartbeat_interval`;
    // 0.8 is the threshold clap and cargo use for the same purpose.
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `"; did you mean 'X'?"` for the closest candidate, or an empty string.
#[must_use]
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean '{c}'?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let keys = ["port", "host", "heartbeat_interval", "max_buffer_size"];
        assert_eq!(closest("prot", keys), Some("port"));
        assert_eq!(
            closest("heartbeat_intervall", keys),
            Some("heartbeat_interval")
        );
        assert_eq!(closest("max_buffersize", keys), Some("max_buffer_size"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(did_you_mean("zzz", keys), "");
    }
}
