//! Expected values from Prometheus' `functions.test` (tests/conformance/promql) and from
//! Go's `Regexp.ExpandString` rules.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("valid labels")
}

fn replace(l: &Labels, dst: &str, repl: &str, src: &str, regex: &str) -> Labels {
    let re = compile_anchored(regex).expect("valid regex");
    label_replace(l, dst, repl, src, &re).expect("valid arguments")
}

fn metric() -> Labels {
    labels(&[
        ("__name__", "testmetric"),
        ("src", "source-value-10"),
        ("dst", "original-destination-value"),
    ])
}

#[test]
fn replace_whole_value_only() {
    let m = metric();
    let out = replace(
        &m,
        "dst",
        "destination-value-$1",
        "src",
        "source-value-(.*)",
    );
    assert_eq!(out.get("dst"), "destination-value-10");
    assert_eq!(out.get("__name__"), "testmetric");
    // A substring match is no match.
    assert_eq!(
        replace(&m, "dst", "destination-value-$1", "src", "value-(.*)"),
        m
    );
    let out = replace(&m, "dst", "$1-value-$2", "src", "(.*)-value-(.*)");
    assert_eq!(out.get("dst"), "source-value-10");
}

#[test]
fn replace_absent_and_empty() {
    let m = metric();
    // An absent source is "", which `source-value-(.*)` does not match…
    assert_eq!(
        replace(
            &m,
            "dst",
            "value-$1",
            "nonexistent-src",
            "source-value-(.*)"
        ),
        m
    );
    // …but `(.*)` does.
    let out = replace(&m, "dst", "value-$1", "nonexistent-src", "(.*)");
    assert_eq!(out.get("dst"), "value-");
    // An empty result removes the label; a new one is inserted in order.
    let out = replace(&m, "dst", "", "dst", ".*");
    assert_eq!(
        out,
        labels(&[("__name__", "testmetric"), ("src", "source-value-10")])
    );
    let out = replace(&m, "a", "x", "src", ".*");
    let names: Vec<&str> = out.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["__name__", "a", "dst", "src"]);
    // `.` matches newlines.
    let nl = labels(&[("src", "a\nb")]);
    assert_eq!(replace(&nl, "dst", "$1", "src", "a.(b)").get("dst"), "b");
}

#[test]
fn expansion_like_go() {
    let m = labels(&[("src", "ab")]);
    let r = |repl: &str| {
        replace(&m, "dst", repl, "src", "(?P<first>a)(b)")
            .get("dst")
            .to_string()
    };
    assert_eq!(r("value-$1"), "value-a");
    assert_eq!(r("$1$2"), "ab");
    assert_eq!(r("${1}x"), "ax");
    // `$1x` names the group "1x", which does not exist.
    assert_eq!(r("$1x-"), "-");
    assert_eq!(r("$first/${first}"), "a/a");
    assert_eq!(r("$$1"), "$1");
    assert_eq!(r("$"), "$");
    assert_eq!(r("a$-b"), "a$-b");
    // Inside braces only name characters are allowed, else the `$` is literal.
    assert_eq!(r("${1-}"), "${1-}");
    assert_eq!(r("${1"), "${1");
    // A leading zero makes it a name, not group 1.
    assert_eq!(r("$01"), "");
    assert_eq!(r("$3"), "");
    assert_eq!(r("$0"), "ab");
}

#[test]
fn errors() {
    assert_eq!(
        compile_anchored("(.*").unwrap_err().to_string(),
        "invalid regular expression in label_replace(): (.*"
    );
    let re = compile_anchored("(.*)").unwrap();
    assert_eq!(
        label_replace(&metric(), "invalid-label-name", "", "src", &re)
            .unwrap_err()
            .to_string(),
        "invalid destination label name in label_replace(): invalid-label-name"
    );
    assert_eq!(
        label_join(&metric(), "dst", "-", &["src", ""])
            .unwrap_err()
            .to_string(),
        "invalid source label name in label_join(): "
    );
    assert_eq!(
        label_join(&metric(), "", "-", &["src"])
            .unwrap_err()
            .to_string(),
        "invalid destination label name in label_join(): "
    );
}

#[test]
fn label_names() {
    assert!(is_valid_label_name("_a1"));
    assert!(is_valid_label_name("Ab_9"));
    assert!(!is_valid_label_name(""));
    assert!(!is_valid_label_name("1a"));
    assert!(!is_valid_label_name("a-b"));
    assert!(!is_valid_label_name("ä"));
    // label_join accepts any non-empty name (UTF-8 validation in Prometheus 3.0).
    assert!(check_label_join_names("dst.ü", &["a-b"]).is_ok());
}

#[test]
fn join() {
    let m = labels(&[
        ("src", "a"),
        ("src1", "b"),
        ("src2", "c"),
        ("dst", "original-destination-value"),
    ]);
    let out = label_join(&m, "dst", "-", &["src", "src1", "src2"]).unwrap();
    assert_eq!(out.get("dst"), "a-b-c");
    let out = label_join(&m, "dst", "-", &["src", "src3", "src1"]).unwrap();
    assert_eq!(out.get("dst"), "a--b");
    // Nothing to join: the destination is removed.
    let out = label_join(&m, "dst", ", ", &[]).unwrap();
    assert_eq!(out.get("dst"), "");
    assert_eq!(out.len(), 3);
    let out = label_join(&m, "new", ", ", &["src", "src1"]).unwrap();
    assert_eq!(out.get("new"), "a, b");
}
