//! tfmm's native config format: its key list against docs/config.md, its errors, and its
//! equivalence with a quantammsim case.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use tfmm_run::config::{KEYS, from_toml, keys_markdown};

const START: &str = "<!-- keys:start -->";
const END: &str = "<!-- keys:end -->";

fn docs_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md")
}

fn parse(text: &str) -> tfmm_run::Result<tfmm_run::RunConfig> {
    from_toml(text, Path::new("."))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Key paths in the first column of the docs' key table.
fn documented_paths(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(path, _)| path.to_string())
        .collect()
}

#[test]
fn the_docs_list_exactly_the_keys_in_the_code() {
    let path = docs_path();
    let text = std::fs::read_to_string(&path).expect("docs/config.md");
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        panic!("docs/config.md needs the markers {START} and {END}");
    };
    let generated = keys_markdown();
    if std::env::var_os("TFMM_BLESS").is_some() {
        let blessed = format!("{}{START}\n{generated}{}", &text[..a], &text[b..]);
        std::fs::write(&path, blessed).unwrap();
        return;
    }
    let documented = &text[a + START.len()..b];
    let in_docs = documented_paths(documented);
    let in_code: BTreeSet<String> = KEYS.iter().map(|k| k.path.to_string()).collect();
    let undocumented: Vec<&String> = in_code.difference(&in_docs).collect();
    let not_in_code: Vec<&String> = in_docs.difference(&in_code).collect();
    assert!(
        undocumented.is_empty() && not_in_code.is_empty(),
        "docs/config.md is out of date: keys without docs {undocumented:?}, documented keys \
         that do not exist {not_in_code:?} (TFMM_BLESS=1 cargo test -p tfmm-run --test \
         native_config rewrites the table)"
    );
    assert_eq!(
        documented.trim(),
        generated.trim(),
        "docs/config.md's key table differs from KEYS (defaults, units or meanings); \
         TFMM_BLESS=1 cargo test -p tfmm-run --test native_config rewrites it"
    );
}

#[test]
fn the_sync_check_sees_a_missing_or_extra_key() {
    let generated = keys_markdown();
    let paths = documented_paths(&generated);
    assert_eq!(paths.len(), KEYS.len(), "one row per key");
    // Dropping a row, or adding one, changes the set the test compares.
    let dropped: String = generated
        .lines()
        .filter(|l| !l.starts_with("| `market.fees`"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!documented_paths(&dropped).contains("market.fees"));
    let added =
        format!("{generated}| `market.fee_bps` | `30` | bp | all | A key that does not exist. |\n");
    assert!(documented_paths(&added).contains("market.fee_bps"));
    assert!(KEYS.iter().all(|k| k.path != "market.fee_bps"));
}

#[test]
fn keys_have_a_default_a_unit_and_a_meaning() {
    let mut seen = BTreeSet::new();
    for k in KEYS {
        assert!(seen.insert(k.path), "{} listed twice", k.path);
        for (what, text) in [
            ("default", k.default),
            ("unit", k.unit),
            ("applies", k.applies),
            ("meaning", k.meaning),
        ] {
            assert!(!text.trim().is_empty(), "{}: no {what}", k.path);
        }
    }
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    assert_eq!(
        error("[pool]\nchunk_perod = 60"),
        "pool.chunk_perod = 60: is not a known key (did you mean `chunk_period`?)"
    );
    assert_eq!(
        error("[pool]\nfees = 0.003"),
        "pool.fees = 0.003: is not a known key (did you mean `market.fees`?)"
    );
    assert_eq!(
        error("[windw]\nstart = \"2024-01-01\""),
        "windw = {\"start\":\"2024-01-01\"}: is not a known key (did you mean `window`?)"
    );
    let e = error("[pool]\ninitial_memory_length = 10");
    assert!(
        e.contains("quantammsim's `initial_memory_length` is pool.memory_days"),
        "{e}"
    );
    let e = error("[pool]\nrule = \"ensemble__momentum\"\n[[pool.members]]\nmemory_dayz = 5");
    assert_eq!(
        e,
        "pool.members[0].memory_dayz = 5: is not a known key (did you mean `memory_days`?)"
    );
    let e = error("[market]\nfees_series = { time = [\"2024-01-01\"], fee = [0.003] }");
    assert!(
        e.starts_with("market.fees_series = ") && e.contains("`fee` is not a column"),
        "{e}"
    );
}

#[test]
fn wrong_types_and_units_name_the_key() {
    assert_eq!(
        error("[market]\nfees = \"30bp\""),
        "market.fees = \"30bp\": must be a number (a fraction: 0.003 = 30 bp)"
    );
    assert_eq!(
        error("[market]\nfees = 30"),
        "market.fees = 30: must be a fraction in [0, 1) (a fraction: 0.003 = 30 bp)"
    );
    assert_eq!(
        error("[market]\nfees = -0.001"),
        "market.fees = -0.001: must be a fraction in [0, 1) (a fraction: 0.003 = 30 bp)"
    );
    assert_eq!(
        error("[pool]\nchunk_period = 1.5"),
        "pool.chunk_period = 1.5: must be a whole number >= 1 (minutes)"
    );
    assert_eq!(
        error("[pool]\nchunk_period = \"1h\""),
        "pool.chunk_period = \"1h\": must be a whole number (minutes)"
    );
    assert_eq!(
        error("[pool]\nmemory_days = -3"),
        "pool.memory_days = -3: must be a positive number of days (days; a number or one per token)"
    );
    assert_eq!(
        error("[pool]\nmemory_days = [5, 15]"),
        "pool.memory_days = [5,15]: has 2 values: give one number, or one per token in pool \
         order (BTC, ETH, SOL)"
    );
    assert_eq!(
        error("[pool]\nweights = [0.5, 0.3, 0.3]"),
        "pool.weights = [0.5,0.3,0.3]: weights must be positive and sum to 1"
    );
    assert_eq!(
        error("[market]\ndo_arb = \"yes\""),
        "market.do_arb = \"yes\": must be true or false (true or false)"
    );
    assert_eq!(
        error("[pool]\ninterpolation = \"linaer\""),
        "pool.interpolation = \"linaer\": must be \"linear\" or \"approx_optimal\" (did you \
         mean \"linear\"?)"
    );
    assert_eq!(
        error("[pool]\ntokens = [\"SOL\", \"BTC\", \"ETH\"]"),
        "pool.tokens = [\"SOL\",\"BTC\",\"ETH\"]: list them in pool order, alphabetical \
         (BTC, ETH, SOL): every per-token list follows it"
    );
    assert_eq!(
        error("[pool]\nweight_interpolation_period = 120"),
        "pool.weight_interpolation_period = 120: must lie in [1, chunk_period] = [1, 60]"
    );
    let e = error("[pool]\nmaximum_change = 3e-4\n[market]\nfees = 0.003\nfees = 0.001");
    assert!(
        e.starts_with("config = line 5 column 1: is not valid TOML"),
        "{e}"
    );
}

#[test]
fn keys_that_would_do_nothing_are_errors() {
    assert_eq!(
        error("[pool]\nrule = \"balancer\"\nmemory_days = 10"),
        "pool.memory_days = 10: has no effect for rule \"balancer\" (it applies to: TFMM \
         rules); remove it"
    );
    let e = error("[pool]\nmemory_days_delta = 5");
    assert!(
        e.starts_with("pool.memory_days_delta = 5: has no effect for rule \"momentum\""),
        "{e}"
    );
    assert!(parse("[pool]\nmemory_days_delta = 5\nuse_alt_lamb = true").is_ok());
    let e = error("[pool]\nexponent = 2");
    assert!(
        e.contains("(it applies to: power_channel, mean_reversion_channel"),
        "{e}"
    );
    let e = error(
        "[pool]\nrule = \"cow\"\ntokens = [\"BTC\", \"ETH\"]\n[market]\nprotocol_fee_split = 0.1",
    );
    assert!(
        e.starts_with("market.protocol_fee_split = 0.1: has no effect for rule \"cow\""),
        "{e}"
    );
    let e =
        error("[market]\nfees = 0.003\nfees_series = { time = [\"2024-01-01\"], fees = [0.001] }");
    assert!(e.contains("market.fees_series replaces it"), "{e}");
    let e = error("[pool]\nmemory_days = 10\n[params]\nlogit_lamb = 4.0");
    assert!(
        e.starts_with("pool.memory_days = 10: [params] gives the parameters"),
        "{e}"
    );
}

#[test]
fn start_after_end_is_an_error() {
    assert_eq!(
        error("[window]\nstart = \"2024-06-01\"\nend = \"2024-01-01\""),
        "window.start = \"2024-06-01 00:00:00\": must be before window.end (2024-01-01 00:00:00)"
    );
    let e = error("[window]\nstart = \"2024-13-01\"");
    assert!(e.starts_with("window.start = \"2024-13-01\": "), "{e}");
    // TOML dates are dates too.
    let c = parse("[window]\nstart = 2024-02-01\nend = 2024-02-02T12:00:00Z").unwrap();
    assert_eq!(
        (c.start.as_str(), c.end.as_str()),
        ("2024-02-01 00:00:00", "2024-02-02 12:00:00")
    );
}

#[test]
fn unknown_rules_and_hooks_are_errors() {
    let e = error("[pool]\nrule = \"momentun\"");
    assert!(
        e.starts_with("pool.rule = \"momentun\": unknown rule (did you mean \"momentum\"?)"),
        "{e}"
    );
    let e = error("[pool]\nrule = \"bounded__balancer\"");
    assert!(e.contains("`bounded__` applies to TFMM rules only"), "{e}");
    let e = error("[pool]\nrule = \"bounde__momentum\"");
    assert!(
        e.contains("unknown prefix `bounde__` (did you mean `bounded__`?)"),
        "{e}"
    );
    let e = error("[pool]\nrule = \"bounded__lvr__momentum\"");
    assert!(e.contains("`lvr__` must come first"), "{e}");
    let e = error("[pool]\nrule = \"rvr__momentum\"");
    assert!(
        e.starts_with("market.rvr_spread = null: an rvr__ benchmark needs"),
        "{e}"
    );
    let e = error("[pool]\nrule = \"bounded__momentum\"");
    assert!(
        e.starts_with("pool.min_weights = null: a bounded__ rule needs"),
        "{e}"
    );
}

#[test]
fn pool_parameters_are_checked_when_read() {
    let gyro = "[pool]\nrule = \"gyroscope\"\ntokens = [\"ETH\", \"USDT\"]\n";
    let e = error(gyro);
    assert!(
        e.starts_with("pool.alpha = null: a gyroscope pool needs alpha and beta"),
        "{e}"
    );
    let e = error(&format!("{gyro}alpha = 3000\nbeta = 2000"));
    assert!(
        e.starts_with("pool.beta = 2000: must be a finite price above alpha"),
        "{e}"
    );
    let e = error(&format!("{gyro}alpha = 1000\nbeta = 5000\nlam = 2"));
    assert_eq!(e, "pool.lam = 2: needs phi as well");
    let e = error(&format!(
        "{gyro}alpha = 1000\nbeta = 5000\nnumeraire = \"USD\""
    ));
    assert!(
        e.starts_with("pool.numeraire = \"USD\": must be one of the pool's tokens"),
        "{e}"
    );
    let e = error("[pool]\nrule = \"cow\"");
    assert!(
        e.starts_with("pool.tokens = 3: a CoW AMM pool holds exactly 2 assets"),
        "{e}"
    );
    let e =
        error("[pool]\nrule = \"reclamm\"\ntokens = [\"BTC\", \"ETH\"]\narc_length_speed = 1e-4");
    assert!(
        e.starts_with("pool.arc_length_speed = 0.0001: has no effect"),
        "{e}"
    );
    let e = error(
        "[pool]\nrule = \"bounded__momentum\"\nmin_weights = [0.5, 0.5, 0.5]\nmax_weights = [0.9, 0.9, 0.9]",
    );
    assert!(
        e.starts_with("pool.min_weights / pool.max_weights = "),
        "{e}"
    );
    assert!(e.contains("minimums must sum to at most 1"), "{e}");
}

#[test]
fn json_with_the_same_structure_is_the_same_config() {
    let toml = "[pool]\nrule = \"power_channel\"\nmemory_days = [5, 10, 20]\nexponent = 2\n\
                [market]\nfees = 0.001\n[window]\nstart = \"2024-02-01\"\nend = \"2024-03-01\"";
    let json = serde_json::json!({
        "pool": {"rule": "power_channel", "memory_days": [5, 10, 20], "exponent": 2},
        "market": {"fees": 0.001},
        "window": {"start": "2024-02-01", "end": "2024-03-01"},
    });
    let from_json = tfmm_run::config::parse(&json).unwrap();
    assert_eq!(parse(toml).unwrap(), from_json);

    // Through files: by extension, and by content.
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("a.toml", toml.to_string()),
        ("b.json", json.to_string()),
        ("c.conf", toml.to_string()),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
        let loaded = tfmm_run::config::load(&dir.path().join(name)).unwrap();
        assert_eq!(loaded, from_json, "{name}");
    }
    // A quantammsim case still loads as one.
    let case = testdata().join("reference/cases/momentum_3a_f30_vec_1m/case.json");
    assert_eq!(tfmm_run::config::load(&case).unwrap().rule, "momentum");
}

/// The reference case momentum_3a_f30_vec_1m in native terms: per-asset memory_days
/// [5, 15, 30] and k_per_day [0.5, 2, 4], weights [.5, .3, .2], hourly, 30 bp, January 2023.
const MOMENTUM_3A: &str = r#"
[pool]
tokens = ["BTC", "ETH", "USDC"]
rule = "momentum"
memory_days = [5, 15, 30]
k_per_day = [0.5, 2, 4]
weights = [0.5, 0.3, 0.2]
chunk_period = 60
weight_interpolation_period = 60

[market]
fees = 0.003

[window]
start = "2023-01-01"
end = "2023-02-01"

[data]
dir = "testdata/reference/prices"
"#;

#[test]
fn a_native_config_reproduces_a_quantammsim_case() {
    // data.dir is relative to the config file: here, as if it sat at the repository root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let native = from_toml(MOMENTUM_3A, &root).unwrap();
    let prices = root.join("testdata/reference/prices");
    assert_eq!(native.data.dir.as_deref(), Some(prices.as_path()));
    let case_dir = testdata().join("reference/cases/momentum_3a_f30_vec_1m");
    let case = tfmm_run::config::load(&case_dir.join("case.json")).unwrap();
    // The same parameters, settings and window.
    assert_eq!(native.params, case.params);
    assert_eq!(native.weights, case.weights);
    assert_eq!(native.pool, case.pool);
    assert_eq!((&native.start, &native.end), (&case.start, &case.end));

    let a = tfmm_run::run_on(&native, tfmm_run::config_source(&native)).unwrap();
    let b = tfmm_run::run(&case, &reference_prices()).unwrap();
    let (va, vb) = (a.final_value(), b.final_value());
    assert!(((va - vb) / vb).abs() <= 1e-12, "native {va}, case {vb}");
    assert_eq!(a.n_rows(), 44640);

    // Internal parameters in [params] give the same run as well.
    let exact = MOMENTUM_3A
        .replace("memory_days = [5, 15, 30]\n", "")
        .replace("k_per_day = [0.5, 2, 4]\n", "")
        .replace("weights = [0.5, 0.3, 0.2]\n", "")
        + "\n[params]\nlog_k = [-1.0, 1.0, 2.0]\n\
           logit_lamb = [3.476799274431361, 4.588962294981777, 5.28548300359054]\n\
           logit_delta_lamb = [0.0, 0.0, 0.0]\n\
           initial_weights_logits = [-0.6931471805599453, -1.2039728043259361, -1.6094379124341003]\n";
    let exact = from_toml(&exact, &root).unwrap();
    assert_eq!(exact.params, case.params);
}

#[test]
fn an_ensemble_in_internal_parameters_is_the_same_ensemble() {
    let members = parse(
        "[pool]\nrule = \"ensemble__momentum\"\nk_per_day = 2\n\
         [[pool.members]]\nmemory_days = 5\n[[pool.members]]\nmemory_days = 20\nk_per_day = 1\n\
         [[pool.members]]\nmemory_days = 40",
    )
    .unwrap();
    assert_eq!(members.weights.n_ensemble_members, 3);
    assert_eq!(members.params.get("logit_lamb").unwrap().shape, [3, 3]);
    assert_eq!(
        members.params.get("initial_weights_logits").unwrap().shape,
        [3]
    );
    let internal = serde_json::json!({
        "pool": {"rule": "ensemble__momentum"},
        "params": members.to_json()["params"],
    });
    let internal = tfmm_run::config::parse(&internal).unwrap();
    assert_eq!(internal.params, members.params);
    assert_eq!(internal.weights, members.weights);
}
