use cairn_model::{Labels, STALE_NAN_BITS, Sample};

use super::*;
use crate::engine::{QueryResult, QueryStats};
use crate::value::{QueryValue, Series, VectorElement};

fn floats(vals: &[SeqValue]) -> Vec<Option<f64>> {
    vals.iter()
        .map(|v| match v {
            SeqValue::Float(f) => Some(*f),
            _ => None,
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn ok(value: QueryValue) -> Result<QueryResult, String> {
    Ok(QueryResult {
        value,
        warnings: vec![],
        infos: vec![],
        stats: QueryStats::default(),
    })
}

fn vector(els: &[(&[(&str, &str)], f64)]) -> QueryValue {
    QueryValue::Vector(
        els.iter()
            .map(|(l, v)| VectorElement {
                labels: labels(l),
                sample: Sample { t: 0, v: *v },
            })
            .collect(),
    )
}

fn eval(script: &str) -> EvalCommand {
    let s = parse_script("t", script).unwrap();
    s.commands
        .into_iter()
        .find_map(|c| match c {
            Command::Eval(e) => Some(e),
            _ => None,
        })
        .unwrap()
}

#[test]
fn series_values_expand_like_prometheus() {
    let (l, v) = parse_series_desc(r#"foo{a="b", c='d'} 1+2x3 _ 5 _x2 stale -1-1x1 3x2"#).unwrap();
    assert_eq!(l.get("__name__").unwrap(), "foo");
    assert_eq!(l.get("c").unwrap(), "d");
    let f = floats(&v);
    assert_eq!(
        &f[..8],
        &[
            Some(1.0),
            Some(3.0),
            Some(5.0),
            Some(7.0),
            None,
            Some(5.0),
            None,
            None
        ]
    );
    assert_eq!(f[8].unwrap().to_bits(), STALE_NAN_BITS);
    assert_eq!(
        &f[9..],
        &[Some(-1.0), Some(-2.0), Some(3.0), Some(3.0), Some(3.0)]
    );
    // `0x10` is zero eleven times, not hex.
    let (_, v) = parse_series_desc("m 0x10").unwrap();
    assert_eq!(v.len(), 11);
    let (_, v) = parse_series_desc("m Inf -Inf +Inf NaN nan 1e3 .5 -0.2e-6").unwrap();
    let f = floats(&v);
    assert_eq!(f[0], Some(f64::INFINITY));
    assert_eq!(f[1], Some(f64::NEG_INFINITY));
    assert!(f[3].unwrap().is_nan() && f[3].unwrap().to_bits() != STALE_NAN_BITS);
    assert_eq!(&f[5..], &[Some(1000.0), Some(0.5), Some(-0.2e-6)]);
    let (l, v) = parse_series_desc("{} 1").unwrap();
    assert!(l.is_empty() && v.len() == 1);
    let (l, _) = parse_series_desc(r#"{"my.metric", le="+Inf"} 1"#).unwrap();
    assert_eq!(l.get("__name__").unwrap(), "my.metric");
    assert!(parse_series_desc("m 1+2").is_err());
    assert!(parse_series_desc("m abc").is_err());
}

#[test]
fn histogram_values_are_recognised() {
    let (_, v) =
        parse_series_desc("m {{schema:0 sum:5 count:4 buckets:[1 2 1]}} 1 {{count:1}}x2").unwrap();
    assert_eq!(v.len(), 5);
    assert!(matches!(&v[0], SeqValue::Histogram(h) if h.contains("buckets:[1 2 1]")));
    assert_eq!(v[1], SeqValue::Float(1.0));
    let (_, v) = parse_series_desc("m {{count:1}}+{{count:2}}x3").unwrap();
    assert_eq!(v.len(), 4);
}

#[test]
fn numbers_follow_go_parse_int_then_parse_float() {
    assert_eq!(parse_number("0x1F").unwrap(), 31.0);
    assert_eq!(parse_number("010").unwrap(), 8.0);
    assert_eq!(parse_number("1_000").unwrap(), 1000.0);
    assert_eq!(parse_number("0x1p-2").unwrap(), 0.25);
    assert_eq!(parse_number("-Inf").unwrap(), f64::NEG_INFINITY);
    assert_eq!(parse_number("+inf").unwrap(), f64::INFINITY);
    assert!(parse_number("NaN").unwrap().is_nan());
    assert!(parse_number("-NaN").is_err());
    assert_eq!(parse_number("12.34e-6").unwrap(), 0.00001234);
    assert!(parse_number("foo").is_err());
    assert!(parse_number("{}").is_err());
    assert!(parse_number("1.2.3").is_err());
}

#[test]
fn durations_parse_like_model_parse_duration() {
    assert_eq!(parse_duration_ms("0").unwrap(), 0);
    assert_eq!(parse_duration_ms("5m").unwrap(), 300_000);
    assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
    assert_eq!(parse_duration_ms("10s500ms").unwrap(), 10_500);
    assert_eq!(parse_duration_ms("1d").unwrap(), 86_400_000);
    assert!(parse_duration_ms("").is_err());
    assert!(parse_duration_ms("5").is_err());
    assert!(parse_duration_ms("30m1h").is_err());
}

#[test]
fn script_commands_and_blocks() {
    let text = r#"
# comment
load 5m
	http_requests{job="api"} 0+10x10
	other 1 _ 3

eval instant at 50m http_requests
	http_requests{job="api"} 100

eval_ordered instant at 50m topk(1, http_requests)
	http_requests{job="api"} 100

eval instant at 50m 1 - -1
	2

eval range from 0 to 10m step 5m http_requests
	{__name__="http_requests", job="api"} 0 10 20

eval_fail instant at 0m foo(
	expected_fail_regexp unexpected.*

eval_warn range from 0 to 1m step 1m bar

clear
load_with_nhcb 1m
	h_bucket{le="1"} 1
"#;
    let s = parse_script("x.test", text).unwrap();
    assert_eq!(s.commands.len(), 9);
    let Command::Load(l) = &s.commands[0] else {
        panic!("not a load")
    };
    assert_eq!(l.line, 3);
    assert_eq!(l.step_ms, 300_000);
    assert_eq!(l.series.len(), 2);
    let other = &l.series[1];
    assert_eq!(
        other.float_samples(l.step_ms),
        vec![Sample { t: 0, v: 1.0 }, Sample { t: 600_000, v: 3.0 }]
    );
    let Command::Eval(e) = &s.commands[1] else {
        panic!()
    };
    assert_eq!(e.kind, EvalKind::Instant { at_ms: 3_000_000 });
    assert_eq!(e.line, 7);
    let Command::Eval(e) = &s.commands[2] else {
        panic!()
    };
    assert!(e.ordered);
    let Command::Eval(e) = &s.commands[3] else {
        panic!()
    };
    assert_eq!(e.expr, "1 - -1");
    assert_eq!(e.expected, Expected::Scalar(2.0));
    let Command::Eval(e) = &s.commands[4] else {
        panic!()
    };
    assert_eq!(
        e.kind,
        EvalKind::Range {
            start_ms: 0,
            end_ms: 600_000,
            step_ms: 300_000
        }
    );
    let Command::Eval(e) = &s.commands[5] else {
        panic!()
    };
    assert!(e.fail && e.expected_fail_regexp.is_some());
    let Command::Eval(e) = &s.commands[6] else {
        panic!()
    };
    assert!(e.warn && e.expected == Expected::Series(vec![]));
    assert!(matches!(s.commands[7], Command::Clear));
    let Command::Load(l) = &s.commands[8] else {
        panic!()
    };
    assert!(l.with_nhcb);
    let nh = l.nhcb_series();
    assert_eq!(nh.len(), 1);
    assert_eq!(nh[0].get("__name__").unwrap(), "h");
    assert!(!nh[0].contains_key("le"));
}

#[test]
fn parse_errors_name_the_line() {
    let e = parse_script("x.test", "load 5m\n  m 1\n\nbogus\n").unwrap_err();
    assert_eq!(e.line, 4);
    let e = parse_script("x.test", "eval instant at 5m m\n  m{ 1\n").unwrap_err();
    assert_eq!(e.line, 2);
    let e = parse_script("x.test", "eval instant at 5m m\n  m 1 2\n").unwrap_err();
    assert!(e.msg.contains("multiple values"), "{e}");
    let e = parse_script("x.test", "eval range from 5m to 1m step 1m m\n").unwrap_err();
    assert!(e.msg.contains("before start"), "{e}");
}

#[test]
fn almost_equal_rules() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    assert!(almost_equal(1.0, 1.0 + 1e-9, 1e-6));
    assert!(!almost_equal(1.0, 1.001, 1e-6));
    assert!(almost_equal(f64::NAN, f64::NAN, 1e-6));
    assert!(!almost_equal(stale, f64::NAN, 1e-6));
    assert!(almost_equal(stale, stale, 1e-6));
    assert!(!almost_equal(0.0, 1e-300, 1e-6));
    assert!(almost_equal(f64::INFINITY, f64::INFINITY, 1e-6));
    assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, 1e-6));
}

#[test]
fn vectors_match_by_label_set_and_order_only_when_ordered() {
    let e = eval("eval instant at 0m m\n  m{a=\"1\"} 1\n  m{a=\"2\"} 2\n");
    let good = vector(&[
        (&[("__name__", "m"), ("a", "2")], 2.0),
        (&[("__name__", "m"), ("a", "1")], 1.0),
    ]);
    assert_eq!(e.check(&ok(good.clone())), Ok(()));
    let bad = vector(&[(&[("__name__", "m"), ("a", "1")], 1.5)]);
    assert!(e.check(&ok(bad)).unwrap_err().contains("expected 1"));
    let missing = vector(&[(&[("__name__", "m"), ("a", "1")], 1.0)]);
    assert!(e.check(&ok(missing)).unwrap_err().contains("not found"));
    let extra = vector(&[(&[("__name__", "x")], 1.0)]);
    assert!(
        e.check(&ok(extra))
            .unwrap_err()
            .contains("unexpected metric")
    );
    let o = eval("eval_ordered instant at 0m m\n  m{a=\"1\"} 1\n  m{a=\"2\"} 2\n");
    assert!(o.check(&ok(good)).unwrap_err().contains("position"));
    // Scalars only match scalar expectations.
    assert!(
        e.check(&ok(QueryValue::Scalar(Sample { t: 0, v: 1.0 })))
            .is_err()
    );
    let s = eval("eval instant at 0m 1\n  1\n");
    assert_eq!(
        s.check(&ok(QueryValue::Scalar(Sample { t: 0, v: 1.0 }))),
        Ok(())
    );
    assert!(s.check(&ok(vector(&[]))).is_err());
}

#[test]
fn failures_warnings_and_infos() {
    let e = eval("eval instant at 0m m\n");
    assert!(e.check(&Err("boom".into())).unwrap_err().contains("boom"));
    let mut warned = ok(vector(&[])).unwrap();
    warned.warnings.push("w".into());
    assert!(
        e.check(&Ok(warned.clone()))
            .unwrap_err()
            .contains("unexpected warnings")
    );
    let mut informed = ok(vector(&[])).unwrap();
    informed.infos.push("i".into());
    // Infos are allowed on a plain eval.
    assert_eq!(e.check(&Ok(informed.clone())), Ok(()));
    let w = eval("eval_warn instant at 0m m\n");
    assert_eq!(w.check(&Ok(warned)), Ok(()));
    assert!(w.check(&ok(vector(&[]))).is_err());
    let i = eval("eval_info instant at 0m m\n");
    assert_eq!(i.check(&Ok(informed)), Ok(()));
    assert!(i.check(&ok(vector(&[]))).is_err());
    let f = eval("eval_fail instant at 0m m\n  expected_fail_message boom\n");
    assert_eq!(f.check(&Err("boom".into())), Ok(()));
    assert!(f.check(&Err("bang".into())).is_err());
    assert!(f.check(&ok(vector(&[]))).unwrap_err().contains("got none"));
    let r = eval("eval_fail instant at 0m m\n  expected_fail_regexp bo+m\n");
    assert_eq!(r.check(&Err("a boom".into())), Ok(()));
}

#[test]
fn range_results_compare_points_and_order() {
    let e = eval("eval range from 0 to 2m step 1m m\n  m{a=\"1\"} 1 _ 3\n  m{a=\"2\"} 1x2\n");
    let series = |a: &str, pts: &[(i64, f64)]| Series {
        labels: labels(&[("__name__", "m"), ("a", a)]),
        samples: pts.iter().map(|&(t, v)| Sample { t, v }).collect(),
    };
    let good = QueryValue::Matrix(vec![
        series("1", &[(0, 1.0), (120_000, 3.0)]),
        series("2", &[(0, 1.0), (60_000, 1.0), (120_000, 1.0)]),
    ]);
    assert_eq!(e.check(&ok(good)), Ok(()));
    let unsorted = QueryValue::Matrix(vec![
        series("2", &[(0, 1.0), (60_000, 1.0), (120_000, 1.0)]),
        series("1", &[(0, 1.0), (120_000, 3.0)]),
    ]);
    assert!(e.check(&ok(unsorted)).unwrap_err().contains("sorted"));
    let wrong_t = QueryValue::Matrix(vec![
        series("1", &[(0, 1.0), (60_000, 3.0)]),
        series("2", &[(0, 1.0), (60_000, 1.0), (120_000, 1.0)]),
    ]);
    assert!(e.check(&ok(wrong_t)).unwrap_err().contains("timestamp"));
    let too_many = eval("eval range from 0 to 1m step 1m m\n  m 1 2 3\n");
    let m = QueryValue::Matrix(vec![Series {
        labels: labels(&[("__name__", "m")]),
        samples: vec![],
    }]);
    assert!(
        too_many
            .check(&ok(m))
            .unwrap_err()
            .contains("cannot return")
    );
}

#[test]
fn instant_evals_also_run_in_range_mode_and_with_at() {
    let e = eval("eval instant at 2m m\n  m 1\n");
    let mut seen = Vec::new();
    let res = e.run(&mut |q| {
        seen.push(q.clone());
        match q.kind {
            EvalKind::Instant { at_ms } => Ok(QueryResult {
                value: QueryValue::Vector(vec![VectorElement {
                    labels: labels(&[("__name__", "m")]),
                    sample: Sample { t: at_ms, v: 1.0 },
                }]),
                warnings: vec![],
                infos: vec![],
                stats: QueryStats::default(),
            }),
            EvalKind::Range {
                start_ms, step_ms, ..
            } => ok(QueryValue::Matrix(vec![Series {
                labels: labels(&[("__name__", "m")]),
                samples: (0..3)
                    .map(|i| Sample {
                        t: start_ms + i * step_ms,
                        v: 1.0,
                    })
                    .collect(),
            }])),
        }
    });
    assert_eq!(res, Ok(()));
    // The query, 5 @-variants, each followed by its range-mode rerun.
    assert_eq!(seen.len(), 12);
    assert_eq!(
        seen[1].kind,
        EvalKind::Range {
            start_ms: 60_000,
            end_ms: 180_000,
            step_ms: 60_000
        }
    );
    assert_eq!(seen[2].expr, "m @ 120.000");
    assert_eq!(seen[2].kind, EvalKind::Instant { at_ms: -1_200_000 });
    // time() makes the result depend on the evaluation time: no variants.
    let e = eval("eval instant at 2m time()\n  120\n");
    let mut n = 0;
    let _ = e.run(&mut |_| {
        n += 1;
        Err("x".into())
    });
    assert_eq!(n, 1);
}

#[test]
fn skips_only_native_histogram_evals() {
    let s = parse_script(
        "x",
        r#"
load 1m
	f{a="1"} 1 2
	h{a="1"} {{schema:0 sum:1 count:1}}

eval instant at 1m f
	f{a="1"} 2

eval instant at 1m h
	h{a="1"} {{schema:0 sum:1 count:1}}

eval instant at 1m sum({a="1"})
	{} 3

eval instant at 1m histogram_count(f)

clear
load_with_nhcb 1m
	c_bucket{le="1"} 1
	c_bucket{le="+Inf"} 2

eval instant at 1m c_bucket
	c_bucket{le="1"} 1
	c_bucket{le="+Inf"} 2

eval instant at 1m histogram_quantile(0.5, c)
	{} 1

eval instant at 1m h
"#,
    )
    .unwrap();
    let mut rules = SkipRules::default();
    let mut reasons = Vec::new();
    for c in &s.commands {
        rules.observe(c);
        if let Command::Eval(e) = c {
            reasons.push(rules.skip_reason(e));
        }
    }
    assert!(reasons[0].is_none());
    assert!(reasons[1].as_deref().unwrap().contains("native"));
    assert!(reasons[2].as_deref().unwrap().contains("selects"));
    assert!(reasons[3].as_deref().unwrap().contains("histogram_count"));
    assert!(reasons[4].is_none(), "{:?}", reasons[4]);
    assert!(reasons[5].as_deref().unwrap().contains("selects"));
    // After `clear`, h is gone.
    assert!(reasons[6].is_none());
}

/// `stddev`/`stdvar` leave histogram samples out, so over a float/histogram mix they run;
/// anything else that reaches the histogram series is still skipped.
#[test]
fn stddev_and_stdvar_over_a_histogram_mix_run() {
    let s = parse_script(
        "x",
        r#"
load 5m
	series{label="a"} 1
	series{label="b"} 2
	series{label="c"} {{schema:1 sum:15 count:10 buckets:[3 2 5 7 9]}}

eval instant at 0m stddev(series)
	{} 0.5

eval instant at 0m stdvar by (label) ((series))
	{label="a"} 0
	{label="b"} 0

eval instant at 0m stddev(series * 2)
	{} 1

eval instant at 0m stddev(series) + count(series)
	{} 3.5

eval instant at 0m stdvar(series)
	{} {{schema:1 sum:15 count:10}}
"#,
    )
    .unwrap();
    let mut rules = SkipRules::default();
    let mut reasons = Vec::new();
    for c in &s.commands {
        rules.observe(c);
        if let Command::Eval(e) = c {
            reasons.push(rules.skip_reason(e));
        }
    }
    assert!(reasons[0].is_none(), "{:?}", reasons[0]);
    assert!(reasons[1].is_none(), "{:?}", reasons[1]);
    // Only a selector right under the aggregation: `series * 2` is not looked into.
    assert!(reasons[2].as_deref().unwrap().contains("selects"));
    // `count` counts the histogram.
    assert!(reasons[3].as_deref().unwrap().contains("selects"));
    assert!(
        reasons[4]
            .as_deref()
            .unwrap()
            .contains("expects a histogram")
    );
}

/// Debug form of a tree with its selectors' matchers sorted (printing sorts them).
fn normalized(mut e: promql_parser::parser::Expr) -> String {
    use promql_parser::parser::Expr;
    fn sort(e: &mut Expr) {
        let key = |m: &promql_parser::label::Matcher| format!("{m:?}");
        match e {
            Expr::VectorSelector(vs) => vs.matchers.matchers.sort_by_key(key),
            Expr::MatrixSelector(ms) => ms.vs.matchers.matchers.sort_by_key(key),
            Expr::Aggregate(a) => {
                // `sum by ()` prints as `sum`: the same grouping.
                if let Some(promql_parser::parser::LabelModifier::Include(l)) = &a.modifier
                    && l.labels.is_empty()
                {
                    a.modifier = None;
                }
                sort(&mut a.expr);
                if let Some(p) = a.param.as_mut() {
                    sort(p);
                }
            }
            Expr::Unary(u) => sort(&mut u.expr),
            Expr::Binary(b) => {
                use promql_parser::parser::{LabelModifier, VectorMatchCardinality};
                // `a + ignoring() b` prints as `a + b`: the same matching.
                if let Some(m) = b.modifier.as_mut()
                    && matches!(&m.matching, Some(LabelModifier::Exclude(l)) if l.labels.is_empty())
                {
                    m.matching = None;
                }
                if b.modifier.as_ref().is_some_and(|m| {
                    m.matching.is_none()
                        && !m.return_bool
                        && matches!(m.card, VectorMatchCardinality::OneToOne)
                }) {
                    b.modifier = None;
                }
                sort(&mut b.lhs);
                sort(&mut b.rhs);
            }
            Expr::Paren(p) => sort(&mut p.expr),
            Expr::Subquery(s) => sort(&mut s.expr),
            Expr::Call(c) => c.args.args.iter_mut().for_each(|a| sort(a)),
            _ => {}
        }
    }
    sort(&mut e);
    format!("{e:?}")
}

/// The shipped scripts all parse, and their expressions survive promql-parser's printing
/// (which the @-modifier variants rely on).
#[test]
fn shipped_scripts_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/promql");
    let mut mismatches = Vec::new();
    for path in script_files(&dir).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        let script = parse_script(&path.display().to_string(), &text).unwrap();
        for c in &script.commands {
            if let Command::Eval(e) = c
                && let Ok(expr) = promql_parser::parser::parse(&e.expr)
            {
                let printed = expr.to_string();
                let again = promql_parser::parser::parse(&printed)
                    .unwrap_or_else(|err| panic!("{}: {printed:?}: {err}", e.expr));
                // The printed form must parse back into the very same tree.
                if normalized(again) != normalized(expr) {
                    mismatches.push(format!("{} printed as {printed}", e.expr));
                }
                if let EvalKind::Instant { at_ms } = e.kind {
                    for v in super::at_modifier::at_modifier_variants(&e.expr, at_ms) {
                        if let Err(err) = promql_parser::parser::parse(&v.expr) {
                            mismatches.push(format!("{} has variant {}: {err}", e.expr, v.expr));
                        }
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A target that must never be asked anything.
struct Untouched;

impl Target for Untouched {
    fn clear(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn load(&mut self, _: &LoadCommand) -> Result<(), String> {
        Err("loaded".into())
    }
    fn query(&mut self, _: &Query) -> Result<QueryResult, String> {
        Err("queried".into())
    }
}

#[test]
fn scripts_needing_a_feature_flag_are_skipped_whole_and_say_which() {
    let text =
        "load 5m\n  metric{env=\"1\"} 0 60\n\neval instant at 5m -metric\n  {env=\"1\"} -60\n";
    let script = parse_script("name_label_dropping.test", text).unwrap();
    let report = run_script(&script, &mut Untouched);
    assert_eq!(report.passed, 0);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.skips.len(), 1);
    assert!(
        report.skips[0]
            .reason
            .contains("promql-delayed-name-removal")
    );
    // The same script under another name runs (and here fails on the untouchable target).
    let script = parse_script("other.test", text).unwrap();
    assert!(!run_script(&script, &mut Untouched).failures.is_empty());
}
