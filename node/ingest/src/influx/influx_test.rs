use cairn_model::Sample;

use super::*;

/// The batch as sorted `(metric{labels}, t, v)` strings.
fn series(wb: &WriteBatch) -> Vec<String> {
    let d = wb.decode().unwrap();
    let mut out = Vec::new();
    for g in &d.groups {
        let labels: Vec<String> = d
            .labels_of(g)
            .iter()
            .map(|&(n, v)| format!("{}={:?}", d.str(n), d.str(v)))
            .collect();
        for item in d.items_of(g) {
            for &Sample { t, v } in d.samples_of(item) {
                out.push(format!(
                    "{}{{{}}} {t} {v}",
                    d.str(item.name),
                    labels.join(",")
                ));
            }
        }
    }
    out
}

fn ingest(body: &str, precision: Precision, db: Option<&str>) -> (Vec<String>, IngestReport) {
    let (wb, report) = parse_body(
        body.as_bytes(),
        Tenant::default_tenant(),
        precision,
        db,
        777,
    );
    assert_eq!(wb.sample_count(), report.samples);
    (series(&wb), report)
}

#[test]
fn one_sample_per_numeric_field_and_value_is_the_bare_measurement() {
    let (s, r) = ingest(
        "cpu,host=a,region=eu usage=1.5,count=3i,big=7u,up=true,down=F,value=9 5000\n",
        Precision::Ms,
        None,
    );
    let labels = "{host=\"a\",region=\"eu\"}";
    assert_eq!(
        s,
        [
            format!("cpu_usage{labels} 5000 1.5"),
            format!("cpu_count{labels} 5000 3"),
            format!("cpu_big{labels} 5000 7"),
            format!("cpu_up{labels} 5000 1"),
            format!("cpu_down{labels} 5000 0"),
            format!("cpu{labels} 5000 9"),
        ]
    );
    assert_eq!(
        r,
        IngestReport {
            lines: 1,
            samples: 6,
            rejected: 0,
            first_error: None
        }
    );
}

#[test]
fn tags_become_labels_verbatim() {
    let (s, _) = ingest(
        "temp\\ C,Ort\\ name=Zürich\\,CH,k\\=1=a=b\\=c v=1 1",
        Precision::S,
        None,
    );
    // `=` unescaped in a tag value is a syntax error, so this line is rejected...
    assert!(s.is_empty());
    let (s, _) = ingest(
        "temp\\ C,Ort\\ name=Zürich\\,CH,k\\=1=b\\=c v=1 1",
        Precision::S,
        None,
    );
    // ...and this one keeps every byte, with the escapes removed.
    assert_eq!(s, ["temp C_v{Ort name=\"Zürich,CH\",k=1=\"b=c\"} 1000 1"]);
}

#[test]
fn string_fields_are_rejected_and_counted() {
    let body = "a f=1\nb f=2\nc f=3\nd f=4\ne f=5\nf f=6\nlog,host=a msg=\"disk full\",code=3i,level=\"warn\" 1\nonly s=\"x\" 1\n";
    let (s, r) = ingest(body, Precision::Ms, None);
    assert_eq!(s.len(), 7);
    assert!(s.contains(&"log_code{host=\"a\"} 1 3".to_string()), "{s:?}");
    assert_eq!(r.lines, 8);
    assert_eq!(r.samples, 7);
    assert_eq!(r.rejected, 3);
    let e = r.first_error.unwrap();
    assert_eq!(e.line, 7);
    assert_eq!(
        e.to_string(),
        "line 7: field \"msg\" is a string; Cairn stores numbers only"
    );
}

#[test]
fn bad_lines_are_skipped_and_good_ones_kept() {
    let body = "ok f=1 1\ncpu,host=serverA,region value=1i\ndup,a=1,a=2 f=1\nname,__name__=x f=1\nok f=2 2\n";
    let (s, r) = ingest(body, Precision::Ms, None);
    assert_eq!(s, ["ok_f{} 1 1", "ok_f{} 2 2"]);
    assert_eq!(r.lines, 5);
    assert_eq!(r.rejected, 3);
    assert_eq!(
        r.first_error.unwrap().to_string(),
        "line 2: expected '=' after tag key \"region\", found ' '"
    );
    let (_, r) = ingest("dup,a=1,a=2 f=1", Precision::Ms, None);
    assert_eq!(
        r.first_error.unwrap().to_string(),
        "line 1: tag \"a\" appears twice"
    );
    let (_, r) = ingest("n,__name__=x f=1", Precision::Ms, None);
    assert!(r.first_error.unwrap().message.contains("reserved"));
    // A line rejected for its tags counts once, whatever its string fields.
    let (_, r) = ingest("dup,a=1,a=2 f=1,s=\"x\"", Precision::Ms, None);
    assert_eq!(r.rejected, 1);
}

#[test]
fn precision_converts_to_milliseconds_rounding_down() {
    let cases = [
        (Precision::Ns, 1_700_000_000_123_456_789, 1_700_000_000_123),
        (Precision::Ns, -1, -1),
        (Precision::Ns, -1_000_000, -1),
        (Precision::Ns, -1_000_001, -2),
        (Precision::Us, 1_500, 1),
        (Precision::Us, -1_500, -2),
        (Precision::Ms, -5, -5),
        (Precision::S, -2, -2_000),
        (Precision::M, 2, 120_000),
        (Precision::H, 1, 3_600_000),
    ];
    for (p, t, want) in cases {
        assert_eq!(p.to_millis(t), Some(want), "{p:?} {t}");
        let (s, _) = ingest(&format!("m f=1 {t}"), p, None);
        assert_eq!(s, [format!("m_f{{}} {want} 1")], "{p:?} {t}");
    }
    // A missing timestamp is `now_ms` whatever the precision.
    let (s, _) = ingest("m f=1", Precision::S, None);
    assert_eq!(s, ["m_f{} 777 1"]);
}

#[test]
fn timestamps_overflowing_milliseconds_reject_the_line() {
    let (s, r) = ingest(
        "m f=1 9223372036854775\nm f=2 9223372036854776\n",
        Precision::S,
        None,
    );
    assert_eq!(s, ["m_f{} 9223372036854775000 1"]);
    assert_eq!(r.rejected, 1);
    let e = r.first_error.unwrap();
    assert_eq!(e.line, 2);
    assert_eq!(
        e.message,
        "timestamp 9223372036854776 (in s) is out of range for i64 milliseconds"
    );
    assert_eq!(Precision::H.to_millis(i64::MAX / 1000), None);
}

#[test]
fn precision_names() {
    for (s, p) in [
        ("", Precision::Ns),
        ("n", Precision::Ns),
        ("ns", Precision::Ns),
        ("u", Precision::Us),
        ("µs", Precision::Us),
        ("ms", Precision::Ms),
        ("s", Precision::S),
        ("m", Precision::M),
        ("h", Precision::H),
    ] {
        assert_eq!(Precision::parse_v1(s), Some(p), "{s}");
    }
    for (s, p) in [
        ("", Precision::Ns),
        ("ns", Precision::Ns),
        ("us", Precision::Us),
        ("ms", Precision::Ms),
        ("s", Precision::S),
    ] {
        assert_eq!(Precision::parse_v2(s), Some(p), "{s}");
    }
    for s in ["n", "u", "m", "h", "sec", "NS"] {
        assert_eq!(Precision::parse_v2(s), None, "{s}");
    }
    assert_eq!(Precision::parse_v1("x"), None);
}

#[test]
fn db_label_comes_from_the_request_unless_the_line_has_one() {
    let (s, _) = ingest(
        "m,host=a f=1 1\nm,db=own,host=a f=2 2\n",
        Precision::Ms,
        Some("telegraf"),
    );
    assert_eq!(
        s,
        [
            "m_f{db=\"telegraf\",host=\"a\"} 1 1",
            "m_f{db=\"own\",host=\"a\"} 2 2"
        ]
    );
    let (s, _) = ingest("m f=1 1", Precision::Ms, Some(""));
    assert_eq!(s, ["m_f{} 1 1"]);
}

#[test]
fn parse_body_into_reports_the_samples_of_its_body() {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    let r1 = parse_body_into(b"a f=1,g=2 1", &mut b, Precision::Ms, None, 0);
    let r2 = parse_body_into(b"b f=3 2", &mut b, Precision::Ms, None, 0);
    assert_eq!((r1.samples, r2.samples), (2, 1));
    assert_eq!(b.finish().sample_count(), 3);
}

#[test]
fn a_line_of_only_string_fields_adds_no_group() {
    let (wb, r) = parse_body(
        b"m s=\"a\"",
        Tenant::default_tenant(),
        Precision::Ns,
        None,
        0,
    );
    assert_eq!(r.rejected, 1);
    assert!(wb.is_empty());
    assert!(wb.decode().unwrap().groups.is_empty());
}
