//! Scenario files: a run as a chain of phases, in TOML.
//!
//! ```toml
//! [[phases]]
//! name = "warm-up"
//! rate = 500          # requests per second
//! duration_s = 5
//! warmup = true       # sent, not recorded
//!
//! [[phases]]
//! name = "ramp"
//! from = 500          # a linear ramp of the offered rate
//! to = 5000
//! duration_s = 10
//! ```
//!
//! Every key is checked here, by name, so a bad file is refused with one line that names the
//! key (`phases[1].rate: …`) rather than with a parser's message about types.

use super::schedule::Phase;

/// Highest rate a phase may offer, requests per second.
pub const RATE_PER_S_MAX: f64 = 10_000_000.0;

/// Longest phase, seconds (a day).
pub const DURATION_S_MAX: f64 = 86_400.0;

/// Phases a scenario may chain.
const PHASES_MAX: usize = 256;

/// The keys a phase may have.
const KEYS: [&str; 6] = ["name", "rate", "from", "to", "duration_s", "warmup"];

/// Parses a scenario's text into its phases; the error is one line naming the key.
pub fn parse(text: &str) -> Result<Vec<Phase>, String> {
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let line = error.message().lines().next().unwrap_or("").to_string();
        match error.span() {
            Some(span) => format!("not TOML at line {}: {line}", line_of(text, span.start)),
            None => format!("not TOML: {line}"),
        }
    })?;
    if let Some(key) = table.keys().find(|key| *key != "phases") {
        return Err(format!("{key}: unknown key (expected [[phases]])"));
    }
    let phases = match table.get("phases") {
        Some(toml::Value::Array(phases)) => phases,
        Some(_) => return Err("phases: expected [[phases]] tables".into()),
        None => return Err("phases: missing (a scenario has at least one [[phases]])".into()),
    };
    if phases.is_empty() || phases.len() > PHASES_MAX {
        return Err(format!("phases: expected 1..={PHASES_MAX} phases, got {}", phases.len()));
    }
    phases
        .iter()
        .enumerate()
        .map(|(position, phase)| match phase {
            toml::Value::Table(table) => {
                phase_of(table).map_err(|error| format!("phases[{position}].{error}"))
            }
            _ => Err(format!("phases[{position}]: expected a table")),
        })
        .collect()
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// One phase; the error starts with the key's name.
fn phase_of(table: &toml::Table) -> Result<Phase, String> {
    if let Some(key) = table.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(format!("{key}: unknown key (expected one of {})", KEYS.join(", ")));
    }
    let name = match table.get("name") {
        Some(toml::Value::String(name)) if !name.is_empty() && name.len() <= 64 => name.clone(),
        Some(_) => return Err("name: expected a string of 1..=64 characters".into()),
        None => return Err("name: missing".into()),
    };
    let rate = number(table, "rate", 0.0)?;
    let from = number(table, "from", 0.0)?;
    let to = number(table, "to", 0.0)?;
    let (rate_from_per_s, rate_to_per_s) = match (rate, from, to) {
        (Some(rate), None, None) if rate > 0.0 => (rate, rate),
        (Some(_), None, None) => return Err("rate: must be positive".into()),
        (None, Some(from), Some(to)) if from + to > 0.0 => (from, to),
        (None, Some(_), Some(_)) => return Err("to: a ramp from 0 to 0 offers nothing".into()),
        (None, None, None) => return Err("rate: missing (or a ramp's from and to)".into()),
        (Some(_), _, _) => return Err("rate: give either rate or from and to, not both".into()),
        (None, None, Some(_)) => return Err("from: missing (a ramp needs from and to)".into()),
        (None, Some(_), None) => return Err("to: missing (a ramp needs from and to)".into()),
    };
    let duration_s = number(table, "duration_s", f64::MIN_POSITIVE)?
        .ok_or_else(|| "duration_s: missing".to_string())?;
    if duration_s > DURATION_S_MAX {
        return Err(format!("duration_s: at most {DURATION_S_MAX}"));
    }
    let recorded = match table.get("warmup") {
        None => true,
        Some(toml::Value::Boolean(warmup)) => !warmup,
        Some(_) => return Err("warmup: expected true or false".into()),
    };
    Ok(Phase { name, rate_from_per_s, rate_to_per_s, duration_s, recorded })
}

/// An optional number key, at least `min` and at most [`RATE_PER_S_MAX`].
fn number(table: &toml::Table, key: &str, min: f64) -> Result<Option<f64>, String> {
    let value = match table.get(key) {
        None => return Ok(None),
        Some(toml::Value::Integer(value)) => *value as f64,
        Some(toml::Value::Float(value)) => *value,
        Some(_) => return Err(format!("{key}: expected a number")),
    };
    if !value.is_finite() || value < min || value > RATE_PER_S_MAX {
        return Err(format!("{key}: out of range ({value})"));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse_with_warm_up_ramp_and_steady() {
        let phases = parse(
            "[[phases]]\nname = \"warm-up\"\nrate = 100\nduration_s = 1\nwarmup = true\n\
             [[phases]]\nname = \"ramp\"\nfrom = 100\nto = 1000.5\nduration_s = 2.5\n\
             [[phases]]\nname = \"steady\"\nrate = 1000\nduration_s = 3\n",
        )
        .unwrap();
        assert_eq!(phases.len(), 3);
        assert!(!phases[0].recorded);
        assert_eq!((phases[1].rate_from_per_s, phases[1].rate_to_per_s), (100.0, 1000.5));
        assert_eq!(phases[1].duration_s, 2.5);
        assert_eq!(phases[2], Phase::steady("steady", 1000.0, 3.0));
    }

    #[test]
    fn a_bad_scenario_is_one_line_naming_the_key() {
        let cases = [
            ("", "phases: missing"),
            ("phases = 3", "phases: expected [[phases]]"),
            (
                "[[phases]]\nname = \"a\"\nrate = 1\nduration_s = 1\nspeed = 2",
                "phases[0].speed: unknown key",
            ),
            (
                "[[phases]]\nname = \"a\"\nrate = \"fast\"\nduration_s = 1",
                "phases[0].rate: expected a number",
            ),
            (
                "[[phases]]\nname = \"a\"\nrate = 0\nduration_s = 1",
                "phases[0].rate: must be positive",
            ),
            (
                "[[phases]]\nname = \"a\"\nrate = 1\nduration_s = 0",
                "phases[0].duration_s: out of range",
            ),
            ("[[phases]]\nname = \"a\"\nrate = 1", "phases[0].duration_s: missing"),
            ("[[phases]]\nname = \"a\"\nfrom = 1\nduration_s = 1", "phases[0].to: missing"),
            (
                "[[phases]]\nname = \"a\"\nrate = 1\nfrom = 1\nto = 2\nduration_s = 1",
                "phases[0].rate: give either",
            ),
            ("[[phases]]\nrate = 1\nduration_s = 1", "phases[0].name: missing"),
            (
                "[[phases]]\nname = \"a\"\nrate = 1\nduration_s = 1\nwarmup = 1",
                "phases[0].warmup: expected",
            ),
            (
                "[[phases]]\nname = \"a\"\nrate = 1\nduration_s = 1\n[[phases]]\nname = \"b\"\nrate = -4\nduration_s = 1",
                "phases[1].rate: out of range",
            ),
            ("[[phases]\nname = 1", "not TOML at line 1"),
            ("steps = 1", "steps: unknown key"),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text);
            assert!(error.starts_with(expected), "{text:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
