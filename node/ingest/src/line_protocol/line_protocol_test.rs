use super::*;

/// Every entry of `input`, owned, with errors as strings.
fn parse_all(input: &[u8]) -> Vec<Result<OwnedLine, String>> {
    let mut p = Parser::new(input);
    let mut out = Vec::new();
    while let Some(r) = p.next_line() {
        out.push(r.map(OwnedLine::from).map_err(|e| e.to_string()));
    }
    out
}

#[derive(Debug, PartialEq)]
struct OwnedLine {
    number: usize,
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue<'static>)>,
    timestamp: Option<i64>,
}

impl From<Line<'_, '_>> for OwnedLine {
    fn from(l: Line<'_, '_>) -> Self {
        OwnedLine {
            number: l.number,
            measurement: l.measurement.into_owned(),
            tags: l
                .tags
                .iter()
                .map(|t| (t.key.to_string(), t.value.to_string()))
                .collect(),
            fields: l
                .fields
                .iter()
                .map(|f| {
                    let v = match &f.value {
                        FieldValue::String(s) => FieldValue::String(Cow::Owned(s.to_string())),
                        FieldValue::Float(v) => FieldValue::Float(*v),
                        FieldValue::Int(v) => FieldValue::Int(*v),
                        FieldValue::UInt(v) => FieldValue::UInt(*v),
                        FieldValue::Bool(v) => FieldValue::Bool(*v),
                    };
                    (f.key.to_string(), v)
                })
                .collect(),
            timestamp: l.timestamp,
        }
    }
}

fn one(input: &str) -> OwnedLine {
    let mut all = parse_all(input.as_bytes());
    assert_eq!(all.len(), 1, "{input:?} gave {all:?}");
    all.remove(0).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn error(input: &str) -> String {
    let all = parse_all(input.as_bytes());
    match all.as_slice() {
        [Err(e)] => e.clone(),
        other => panic!("{input:?}: want one error, got {other:?}"),
    }
}

fn field(input: &str) -> FieldValue<'static> {
    let mut l = one(input);
    assert_eq!(l.fields.len(), 1);
    l.fields.remove(0).1
}

#[test]
fn parses_measurement_tags_fields_and_timestamp() {
    let l = one("cpu,host=a,region=eu usage=0.5,count=3i 1700000000000000000");
    assert_eq!(l.number, 1);
    assert_eq!(l.measurement, "cpu");
    assert_eq!(
        l.tags,
        [("host".into(), "a".into()), ("region".into(), "eu".into())]
    );
    assert_eq!(
        l.fields,
        [
            ("usage".into(), FieldValue::Float(0.5)),
            ("count".into(), FieldValue::Int(3))
        ]
    );
    assert_eq!(l.timestamp, Some(1_700_000_000_000_000_000));
    let l = one("cpu usage=1");
    assert!(l.tags.is_empty());
    assert_eq!(l.timestamp, None);
}

#[test]
fn tokens_without_escapes_borrow_the_input() {
    let input = b"cpu,host=a usage=1,msg=\"hi\" 5";
    let mut p = Parser::new(input);
    let l = p.next_line().unwrap().unwrap();
    assert!(matches!(l.measurement, Cow::Borrowed(_)));
    assert!(matches!(l.tags[0].key, Cow::Borrowed(_)));
    assert!(matches!(l.tags[0].value, Cow::Borrowed(_)));
    assert!(matches!(l.fields[0].key, Cow::Borrowed(_)));
    assert!(matches!(
        l.fields[1].value,
        FieldValue::String(Cow::Borrowed("hi"))
    ));
}

#[test]
fn escapes_in_every_position() {
    let l = one(r#"c\ p\,u=x,t\ k\,e\=y=v\ a\,l\=ue f\ i\,e\=ld=1,s="q\"b\\e\n" 1"#);
    assert_eq!(l.measurement, "c p,u=x");
    assert_eq!(l.tags, [("t k,e=y".into(), "v a,l=ue".into())]);
    assert_eq!(l.fields[0].0, "f i,e=ld");
    // Only `\"` and `\\` are escapes in strings; `\n` stays two characters.
    assert_eq!(l.fields[1].1, FieldValue::String(r#"q"b\e\n"#.into()));
    // Other backslashes are literal, and a literal backslash does not escape the next one.
    assert_eq!(one(r"m\x f=1").measurement, r"m\x");
    assert_eq!(one(r"a\\,b f=1").measurement, r"a\,b");
    assert_eq!(one(r"m,k=v\\  f=1").tags[0].1, r"v\ ");
    assert_eq!(one(r"m,s=\\,\,\t e=1").tags[0].1, r"\,,\t");
    assert_eq!(
        one(r#"m s="a\b""#).fields[0].1,
        FieldValue::String(r"a\b".into())
    );
    // A backslash at the very end stays.
    assert!(error(r"m f=1,\").contains("expected '=' after field key \"\\\\\""));
}

#[test]
fn unicode_is_kept_and_invalid_utf8_rejected() {
    let l = one("温度,城市=Zürich wert=21.5,s=\"🦀\"");
    assert_eq!(l.measurement, "温度");
    assert_eq!(l.tags, [("城市".into(), "Zürich".into())]);
    assert_eq!(l.fields[1].1, FieldValue::String("🦀".into()));
    let all = parse_all(b"\xffm f=1\nok f=2\n");
    assert!(
        matches!(&all[0], Err(e) if e.starts_with("line 1: invalid UTF-8 in measurement")),
        "{all:?}"
    );
    assert_eq!(all[1].as_ref().unwrap().number, 2);
    let all = parse_all(b"m,t=\xff f=1\nok f=2\n");
    assert!(
        matches!(&all[0], Err(e) if e.contains("invalid UTF-8 in tag value")),
        "{all:?}"
    );
    assert_eq!(all[1].as_ref().unwrap().measurement, "ok");
    // Comments are not checked, as in the reference decoder.
    let all = parse_all(b"# caf\xe9\nm f=1");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].as_ref().unwrap().number, 2);
}

#[test]
fn control_characters_are_kept_in_tag_values_and_strings_only() {
    let l = one("m,k=x\u{1}y\tz v=\"a\u{1}b\"");
    assert_eq!(l.tags, [("k".into(), "x\u{1}y\tz".into())]);
    assert_eq!(l.fields[0].1, FieldValue::String("a\u{1}b".into()));
    assert!(error("m,k\u{1}=x v=1").contains("expected '=' after tag key \"k\", found '\\u{1}'"));
    assert!(error("m v\u{1}=1").contains("expected '=' after field key"));
    assert!(error("m\u{1} v=1").contains("expected tag key or field"));
    assert!(error("m,k=x\ry v=1").contains("after the value of tag \"k\", found '\\r'"));
}

#[test]
fn every_field_type() {
    assert_eq!(field("m f=1"), FieldValue::Float(1.0));
    assert_eq!(field("m f=-1.5"), FieldValue::Float(-1.5));
    assert_eq!(field("m f=.25"), FieldValue::Float(0.25));
    assert_eq!(field("m f=3."), FieldValue::Float(3.0));
    assert_eq!(field("m f=1e3"), FieldValue::Float(1000.0));
    assert_eq!(field("m f=-1.5E-3"), FieldValue::Float(-0.0015));
    assert_eq!(field("m f=1e+2"), FieldValue::Float(100.0));
    assert_eq!(
        field("m f=1.7976931348623157e308"),
        FieldValue::Float(f64::MAX)
    );
    assert_eq!(field("m f=0.1"), FieldValue::Float(0.1));
    assert_eq!(
        field("m f=123456789012345678901234567890"),
        FieldValue::Float(1.2345678901234568e29)
    );
    assert_eq!(
        field("m f=-9223372036854775808i"),
        FieldValue::Int(i64::MIN)
    );
    assert_eq!(field("m f=9223372036854775807i"), FieldValue::Int(i64::MAX));
    assert_eq!(field("m f=-0i"), FieldValue::Int(0));
    assert_eq!(
        field("m f=18446744073709551615u"),
        FieldValue::UInt(u64::MAX)
    );
    for t in ["t", "T", "true", "True", "TRUE"] {
        assert_eq!(field(&format!("m f={t}")), FieldValue::Bool(true), "{t}");
    }
    for f in ["f", "F", "false", "False", "FALSE"] {
        assert_eq!(field(&format!("m f={f}")), FieldValue::Bool(false), "{f}");
    }
    assert_eq!(field(r#"m f="""#), FieldValue::String("".into()));
    assert_eq!(
        field("m f=\"a b,c=d\nnext\""),
        FieldValue::String("a b,c=d\nnext".into())
    );
    assert_eq!(FieldValue::Bool(true).as_f64(), Some(1.0));
    assert_eq!(FieldValue::UInt(7).as_f64(), Some(7.0));
    assert_eq!(FieldValue::Int(-7).as_f64(), Some(-7.0));
    assert_eq!(FieldValue::String("1".into()).as_f64(), None);
}

#[test]
fn bad_values_are_errors_naming_the_field() {
    for (input, want) in [
        ("m f=inf", "no known type"),
        ("m f=-inf", "invalid float value \"-inf\""),
        ("m f=nan", "no known type"),
        ("m f=NaN", "no known type"),
        ("m f=1e400", "out of range"),
        ("m f=1.2.3", "invalid float value \"1.2.3\" for field \"f\""),
        ("m f=0x10", "invalid float"),
        ("m f=1_000", "invalid float"),
        (
            "m f=9223372036854775808i",
            "integer value \"9223372036854775808i\" of field \"f\" is out of range",
        ),
        ("m f=-9223372036854775809i", "out of range"),
        ("m f=1.5i", "invalid integer"),
        ("m f=-1u", "invalid unsigned integer"),
        ("m f=18446744073709551616u", "out of range"),
        ("m f=tru", "invalid boolean value \"tru\""),
        ("m f=yes", "no known type"),
        ("m f=", "expected value for field \"f\""),
        ("m f= 1", "missing value for field \"f\""),
        (
            "m f=\"open",
            "expected closing quote for string field \"f\"",
        ),
        ("m f=\"a\"x", "unexpected character 'x' after field \"f\""),
    ] {
        let e = error(input);
        assert!(e.starts_with("line 1: "), "{input}: {e}");
        assert!(e.contains(want), "{input}: {e} does not contain {want}");
    }
}

#[test]
fn syntax_errors_name_the_line_and_the_problem() {
    let all = parse_all(b"a f=1\nb f=2\ncpu,host=serverA,region value=1i\nd f=4\n");
    assert_eq!(all.len(), 4);
    assert_eq!(
        all[2].as_ref().unwrap_err(),
        "line 3: expected '=' after tag key \"region\", found ' '"
    );
    assert_eq!(all[3].as_ref().unwrap().number, 4);
    for (input, want) in [
        (
            "cpu",
            "expected tag key or field after \"cpu\", found end of input",
        ),
        ("cpu\n", "found '\\n'"),
        ("cpu,", "expected tag key after comma"),
        ("cpu, f=1", "expected tag key after comma, found ' '"),
        ("cpu,=v f=1", "empty tag key"),
        ("cpu,k= f=1", "expected tag value after tag key \"k\""),
        ("cpu,k=v", "expected fields after the tags"),
        ("cpu,k=v=w f=1", "after the value of tag \"k\""),
        ("cpu ", "expected field key, found end of input"),
        ("cpu =1", "invalid character '=' at start of field key"),
        (
            "cpu f",
            "expected '=' after field key \"f\", found end of input",
        ),
        ("cpu f=1,", "expected field key"),
        (
            ",cpu f=1",
            "invalid character ',' at start of measurement name",
        ),
        (
            "\tcpu f=1",
            "invalid character '\\t' at start of measurement name",
        ),
        ("cpu f=1 12x", "invalid timestamp \"12x\""),
        ("cpu f=1 -", "invalid timestamp \"-\""),
        ("cpu f=1 1-2", "invalid timestamp \"1-2\""),
        (
            "cpu f=1 99999999999999999999",
            "timestamp 99999999999999999999 is out of range",
        ),
        ("cpu f=1 1 2", "unexpected text \"2\" after the timestamp"),
        ("cpu f=1\rx", "carriage return"),
        ("cpu f=1 5\rx", "carriage return not followed by a newline"),
        ("cpu\u{7f} f=1", "found '\\u{7f}'"),
        (
            "# tab\tin comment",
            "comment contains the control character '\\t'",
        ),
    ] {
        let e = error(input);
        assert!(e.contains(want), "{input:?}: {e} does not contain {want}");
    }
}

#[test]
fn comments_blank_lines_crlf_and_leading_spaces() {
    let input = b"# header\r\n\r\n   \n  cpu f=1 10\r\n  # indented comment\n\nmem f=2   \r\ndisk f=3 30   ";
    let all = parse_all(input);
    let lines: Vec<_> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.number, l.measurement.as_str(), l.timestamp))
            .collect::<Vec<_>>(),
        [
            (4, "cpu", Some(10)),
            (7, "mem", None),
            (8, "disk", Some(30))
        ]
    );
    assert!(parse_all(b"").is_empty());
    assert!(parse_all(b"\n\n# only comments\n   ").is_empty());
    // A carriage return at the very end is an end of line too.
    assert_eq!(parse_all(b"m f=1\r").len(), 1);
}

#[test]
fn errors_skip_only_their_line_and_strings_keep_line_numbers() {
    let all = parse_all(b"m s=\"two\nlines\" 1\nbad\nm f=1 2\n");
    assert_eq!(all[0].as_ref().unwrap().number, 1);
    assert_eq!(
        all[1].as_ref().unwrap_err(),
        "line 3: expected tag key or field after \"bad\", found '\\n'"
    );
    assert_eq!(all[2].as_ref().unwrap().number, 4);
    assert_eq!(all[2].as_ref().unwrap().timestamp, Some(2));
}

#[test]
fn timestamps_are_raw_and_may_be_negative() {
    assert_eq!(one("m f=1 -1").timestamp, Some(-1));
    assert_eq!(one("m f=1 -9223372036854775808").timestamp, Some(i64::MIN));
    assert_eq!(one("m f=1 0").timestamp, Some(0));
    assert_eq!(one("m f=1   42   ").timestamp, Some(42));
}

#[test]
fn float_fast_path_agrees_with_the_full_parser() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200_000 {
        // xorshift: digits of varying length with a dot somewhere.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let digits = (x % 1_000_000_000_000_000).to_string();
        let cut = (x >> 60) as usize % (digits.len() + 1);
        let s = format!("{}.{}", &digits[..cut], &digits[cut..]);
        let s = if x & 1 == 1 { format!("-{s}") } else { s };
        let want: f64 = s.parse().unwrap();
        assert_eq!(parse_float(s.as_bytes()), Ok(want), "{s}");
    }
}
