//! The frequency tables: `det_exp`'s accuracy, every table's validity, the pinned tables, and
//! the parameter bytes.

use super::*;

#[test]
fn det_exp_is_accurate() {
    let mut x = -240.0;
    while x < 5.0 {
        let (a, b) = (det_exp(x), x.exp());
        if x < -230.0 {
            assert_eq!(a, 0.0);
        } else {
            assert!(((a - b) / b).abs() < 1e-14, "exp({x}) = {a} vs {b}");
        }
        x += 0.0137;
    }
    assert_eq!(det_exp(0.0), 1.0);
    assert_eq!(det_exp(f64::NAN), 0.0);
}

#[test]
fn every_table_is_valid() {
    let mut scratch = Scratch::default();
    for shape in [Shape::Gauss, Shape::Laplace] {
        for k in [0u8, 1, 7, 53, 54, 55, 61, 62] {
            for tail in 0..8 {
                for esc in 0..4 {
                    for q in 0..=255 {
                        let m = ModelCode {
                            shape,
                            k,
                            tail,
                            esc,
                            q,
                        };
                        let side = m.build_freqs(&mut scratch);
                        let f = &scratch.freqs;
                        assert!((1..=MAX_SIDE).contains(&side));
                        assert_eq!(f.len(), 2 * side as usize + 1);
                        assert!(f.iter().all(|&x| x >= 1), "{m:?}");
                        assert_eq!(f.iter().sum::<u32>(), TOTAL, "{m:?}");
                        if k >= 54 {
                            assert!(i64::from(side) <= 1 << (63 - k));
                        }
                    }
                }
            }
        }
    }
}

/// Pins the exact tables: any change of the table construction (which
/// would break decoding of stored data) fails here.
#[test]
fn golden_tables() {
    let mut scratch = Scratch::default();
    let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a 64
    let mut count = 0;
    for shape in [Shape::Gauss, Shape::Laplace] {
        for k in [0u8, 3, 62] {
            for tail in [0u8, 3, 7] {
                for esc in [0u8, 3] {
                    for q in (0..=255).step_by(5) {
                        let m = ModelCode {
                            shape,
                            k,
                            tail,
                            esc,
                            q,
                        };
                        m.build_freqs(&mut scratch);
                        for &f in &scratch.freqs {
                            for byte in f.to_le_bytes() {
                                h = (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
                            }
                            count += 1;
                        }
                    }
                }
            }
        }
    }
    println!("golden: count {count} hash {h:#018x}");
    assert_eq!((count, h), (80472, 0xe009_fa2e_252e_9439));
    // Two tables in full, for readability of failures.
    let full: [(ModelCode, &[u32]); 2] = [
        (
            ModelCode {
                shape: Shape::Gauss,
                k: 3,
                tail: 0,
                esc: 0,
                q: 128,
            },
            &[1, 46, 981, 7713, 22319, 23759, 9304, 1340, 71, 1, 1],
        ),
        (
            ModelCode {
                shape: Shape::Laplace,
                k: 0,
                tail: 0,
                esc: 1,
                q: 100,
            },
            &[5, 31, 194, 1212, 7585, 47471, 7585, 1212, 194, 31, 16],
        ),
    ];
    for (m, want) in full {
        m.build_freqs(&mut scratch);
        println!("golden: {m:?} -> {:?}", scratch.freqs);
        assert_eq!(scratch.freqs, want);
    }
}

#[test]
fn bad_params_are_rejected() {
    let mut pos = 0;
    assert!(ModelCode::read_params(&[], &mut pos).is_err());
    assert!(ModelCode::read_params(&[1], &mut pos).is_err());
    assert!(
        ModelCode::read_params(&[63, 0], &mut pos).is_err(),
        "k = 63"
    );
    assert!(
        ModelCode::read_params(&[0x80, 0], &mut pos).is_err(),
        "no ext"
    );
    assert!(ModelCode::read_params(&[0x80, 0, 0x20], &mut pos).is_err());
    let non_canonical = [0x80, 0, GAUSS_TAIL_DEFAULT];
    assert!(ModelCode::read_params(&non_canonical, &mut pos).is_err());
    assert_eq!(pos, 0);
    let mut pos = 1;
    assert!(ModelCode::read_params(&[9, 1, 2, 3], &mut pos).is_ok());
    assert_eq!(pos, 3);
    let mut pos = 5;
    assert!(ModelCode::read_params(&[9, 1, 2, 3], &mut pos).is_err());
    // Every accepted header re-serialises to exactly the bytes consumed.
    for b0 in 0..=255u8 {
        for q in [0u8, 1, 77, 255] {
            for e in 0..=255u8 {
                let b = [b0, q, e];
                let mut pos = 0;
                match ModelCode::read_params(&b, &mut pos) {
                    Ok(m) => {
                        let mut out = Vec::new();
                        m.write_params(&mut out);
                        assert_eq!(out, &b[..pos]);
                        assert_eq!(pos, m.params_len());
                    }
                    Err(_) => assert!(b0 & 63 == 63 || b0 & 128 != 0),
                }
            }
        }
    }
}
