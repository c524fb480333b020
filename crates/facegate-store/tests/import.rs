//! Migration parsers against real face_recognition files and hostile input.
//!
//! The fixtures are made by `tools/migration-fixtures/make_fixtures.py`:
//! real face_recognition encodings of the shared example images, pickled by
//! numpy 1.26 and 2.x with protocols 2, 4 and 5; `expected.json` holds every
//! value as its float64 bit pattern.

use std::path::{Path, PathBuf};

use facegate_store::import::{
    ImportError, ImportFormat, ImportLimits, ImportedTemplate, detect_format, import_file,
    parse_encodings_pickle, parse_encodings_pickle_with, parse_facebank_csv,
    parse_facebank_csv_with,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

/// Names and float64 values from `expected.json`.
fn expected() -> (Vec<String>, Vec<Vec<f64>>) {
    let json: serde_json::Value =
        serde_json::from_slice(&read("expected.json")).expect("expected.json");
    let names = json["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect();
    let encodings = json["encodings_f64_bits"]
        .as_array()
        .expect("encodings")
        .iter()
        .map(|e| {
            e.as_array()
                .expect("encoding")
                .iter()
                .map(|h| {
                    f64::from_bits(u64::from_str_radix(h.as_str().expect("hex"), 16).expect("hex"))
                })
                .collect()
        })
        .collect();
    (names, encodings)
}

/// Every value must be exactly the float64 rounded to float32, bit for bit.
fn assert_matches_expected(got: &[ImportedTemplate]) {
    let (names, encodings) = expected();
    assert_eq!(got.len(), names.len());
    for ((t, name), values) in got.iter().zip(&names).zip(&encodings) {
        assert_eq!(&t.name, name);
        assert_eq!(t.embedding.len(), 128);
        for (a, b) in t.embedding.iter().zip(values) {
            assert_eq!(a.to_bits(), (*b as f32).to_bits(), "{name}: {a} vs {b}");
        }
    }
}

const PICKLES: &[&str] = &[
    "encodings_np1_p2.pickle",
    "encodings_np1_p3.pickle",
    "encodings_np1_p4.pickle",
    "encodings_np1_p5.pickle",
    "encodings_np1_2d_p4.pickle",
    "encodings_np2_p2.pickle",
    "encodings_np2_p3.pickle",
    "encodings_np2_p4.pickle",
    "encodings_np2_p5.pickle",
    "encodings_np2_2d_p4.pickle",
    // float32, big-endian float64, Fortran-ordered N×D.
    "encodings_np1_f32_p4.pickle",
    "encodings_np1_be_p2.pickle",
    "encodings_np1_fortran_p5.pickle",
    "encodings_np2_f32_p4.pickle",
    "encodings_np2_be_p2.pickle",
    "encodings_np2_fortran_p5.pickle",
];

#[test]
fn real_pickles_round_trip_exactly() {
    for name in PICKLES {
        let got = parse_encodings_pickle(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_matches_expected(&got);
    }
}

#[test]
fn real_csvs_round_trip_exactly() {
    for name in ["facebank.csv", "facebank_noheader.csv", "facebank_list.csv"] {
        let got = parse_facebank_csv(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_matches_expected(&got);
    }
}

#[test]
fn import_file_detects_the_format() {
    assert_eq!(
        detect_format(&read("encodings_np2_p4.pickle")),
        ImportFormat::Pickle
    );
    assert_eq!(detect_format(&read("facebank.csv")), ImportFormat::Csv);
    let limits = ImportLimits::default();
    assert_matches_expected(&import_file(&fixture("encodings_np1_p2.pickle"), &limits).unwrap());
    assert_matches_expected(&import_file(&fixture("facebank.csv"), &limits).unwrap());
    assert!(matches!(
        import_file(&fixture("missing.pickle"), &limits),
        Err(ImportError::Io { .. })
    ));
}

#[test]
fn every_truncation_is_an_error() {
    for name in ["encodings_np2_p2.pickle", "encodings_np1_p5.pickle"] {
        let bytes = read(name);
        for len in 0..bytes.len() {
            assert!(
                parse_encodings_pickle(&bytes[..len]).is_err(),
                "{name} cut at {len} parsed"
            );
        }
    }
}

/// Deterministic corruption: whatever comes out, nothing panics.
#[test]
fn corrupted_pickles_never_panic() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in [
        "encodings_np2_p2.pickle",
        "encodings_np2_p4.pickle",
        "encodings_np1_p5.pickle",
    ] {
        let original = read(name);
        for _ in 0..1500 {
            let mut bytes = original.clone();
            for _ in 0..(1 + next() % 4) {
                let i = (next() % bytes.len() as u64) as usize;
                bytes[i] = next() as u8;
            }
            let _ = parse_encodings_pickle(&bytes);
        }
    }
}

#[test]
fn os_system_reduce_is_refused() {
    // pickle.dumps of an object whose __reduce__ returns (os.system, ("ls",)), protocol 2.
    let evil = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
    let err = parse_encodings_pickle(evil).unwrap_err();
    assert!(
        matches!(&err, ImportError::ForbiddenGlobal { module, name, offset: 2 } if module == "os" && name == "system"),
        "{err:?}"
    );
    assert!(err.to_string().contains("os.system"), "{err}");
    // The same with STACK_GLOBAL (protocol 4) and builtins.eval.
    let evil = b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x061+1\x94\x85\x94R\x94.";
    let err = parse_encodings_pickle(evil).unwrap_err();
    assert!(
        matches!(&err, ImportError::ForbiddenGlobal { module, name, .. } if module == "builtins" && name == "eval"),
        "{err:?}"
    );
    // A hostile global hidden inside an otherwise valid encodings dict.
    let mut bytes = read("encodings_np2_p2.pickle");
    let tail = b"X\x05\x00\x00\x00extracposix\nsystem\nX\x02\x00\x00\x00id\x85Rs.";
    bytes.pop(); // STOP
    bytes.extend_from_slice(tail);
    assert!(matches!(
        parse_encodings_pickle(&bytes),
        Err(ImportError::ForbiddenGlobal { .. })
    ));
}

#[test]
fn forbidden_opcodes_are_refused() {
    for (op, name) in [
        (0x81u8, "NEWOBJ"),
        (b'P', "PERSID"),
        (b'Q', "BINPERSID"),
        (0x82, "EXT1"),
        (b'i', "INST"),
        (b'o', "OBJ"),
        (0x92, "NEWOBJ_EX"),
        (0x97, "NEXT_BUFFER"),
        (0x8f, "EMPTY_SET"),
        (b'I', "INT"),
    ] {
        let bytes = [0x80, 0x04, b'N', op, b'.'];
        match parse_encodings_pickle(&bytes) {
            Err(ImportError::ForbiddenOpcode {
                opcode,
                name: n,
                offset: 3,
            }) => {
                assert_eq!(opcode, op);
                assert_eq!(n, name);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn other_protocols_and_non_pickles_are_refused() {
    for bytes in [
        &b""[..],
        b"(dp0\nS'names'\np1\n(lp2\ns.", // protocol 0
        b"}q\x00.",                      // protocol 1
        b"\x80\x06}.",                   // a future protocol
        b"name,1.0\n",
    ] {
        assert!(
            matches!(
                parse_encodings_pickle(bytes),
                Err(ImportError::UnsupportedPickle(_))
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn malformed_structure_is_refused() {
    let cases: &[(&[u8], &str)] = &[
        (b"\x80\x04N", "truncated"),
        (b"\x80\x04.", "underflow"),
        (b"\x80\x04NN.", "two values at STOP"),
        (b"\x80\x04}N.N", "data after STOP"),
        (b"\x80\x04N(\x85.", "pop across mark"),
        (b"\x80\x04h\x07.", "memo miss"),
        (b"\x80\x04NNa.", "append to None"),
        (b"\x80\x04\x8c\x05\xff\xfe\xfd\xfc\xfb.", "bad utf-8"),
        (b"\x80\x04X\xff\xff\xff\xff.", "huge length"),
        (
            b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff.",
            "huge 64-bit length",
        ),
        (
            b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f.",
            "huge frame",
        ),
        (
            b"\x80\x04\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.",
            "wide int",
        ),
        (b"\x80\x04]N\x85b.", "BUILD on a list"),
        (b"\x80\x04]N\x85R.", "REDUCE on a list"),
        (b"\x80\x02cnumpy\nndarray\nN\x85R.", "calling ndarray"),
        (b"\x80\x02cnumpy\n", "truncated global"),
        (b"\x80\x04\x80\x04N.", "PROTO twice"),
        (b"\x80\x04N.", "not a dict"),
        (b"\x80\x04}.", "no keys"),
    ];
    for (bytes, what) in cases {
        let r = parse_encodings_pickle(bytes);
        assert!(r.is_err(), "{what}: {r:?}");
    }
}

/// A hand-written protocol-2 pickle, as Python 2 wrote it: names as `str`
/// (SHORT_BINSTRING), encodings as lists of floats.
fn py2_style(names: &[&str], encodings: &[&[f64]]) -> Vec<u8> {
    let mut b = vec![0x80, 0x02, b'}', b'(', b'U', 5];
    b.extend_from_slice(b"names");
    b.extend_from_slice(b"](");
    for n in names {
        b.push(b'U');
        b.push(n.len() as u8);
        b.extend_from_slice(n.as_bytes());
    }
    b.extend_from_slice(b"eU\x09encodings](");
    for e in encodings {
        b.extend_from_slice(b"](");
        for v in *e {
            b.push(b'G');
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.push(b'e');
    }
    b.extend_from_slice(b"eu.");
    b
}

#[test]
fn python2_strings_and_float_lists() {
    let got =
        parse_encodings_pickle(&py2_style(&["ann", "bob"], &[&[0.5, -0.25], &[1.0, 2.0]])).unwrap();
    assert_eq!(
        got,
        vec![
            ImportedTemplate {
                name: "ann".into(),
                embedding: vec![0.5, -0.25]
            },
            ImportedTemplate {
                name: "bob".into(),
                embedding: vec![1.0, 2.0]
            },
        ]
    );
}

#[test]
fn layout_errors_are_clear() {
    let err = parse_encodings_pickle(&py2_style(&["ann", "bob"], &[&[0.5, -0.25]])).unwrap_err();
    assert!(
        matches!(err, ImportError::Layout(ref m) if m.contains("2 names but 1 encodings")),
        "{err}"
    );
    let err =
        parse_encodings_pickle(&py2_style(&["ann", "bob"], &[&[0.5], &[1.0, 2.0]])).unwrap_err();
    assert!(matches!(err, ImportError::Layout(_)), "{err}");
    let err = parse_encodings_pickle(&py2_style(&["ann"], &[&[f64::NAN]])).unwrap_err();
    assert!(
        matches!(err, ImportError::Layout(ref m) if m.contains("finite")),
        "{err}"
    );
    let err = parse_encodings_pickle(&py2_style(&["ann"], &[&[1e300]])).unwrap_err();
    assert!(matches!(err, ImportError::Layout(_)), "{err}");
    let err = parse_encodings_pickle(&py2_style(&[" "], &[&[1.0]])).unwrap_err();
    assert!(
        matches!(err, ImportError::Layout(ref m) if m.contains("empty")),
        "{err}"
    );
    assert_eq!(
        parse_encodings_pickle(&py2_style(&[], &[])).unwrap(),
        vec![]
    );
}

#[test]
fn non_float_arrays_are_refused() {
    // Change the dtype code "f8" to "i8" in a real pickle.
    let mut bytes = read("encodings_np2_p4.pickle");
    let at = bytes
        .windows(3)
        .position(|w| w == b"\x02f8")
        .expect("dtype code");
    bytes[at + 1] = b'i';
    let err = parse_encodings_pickle(&bytes).unwrap_err();
    assert!(
        matches!(err, ImportError::Layout(ref m) if m.contains("\"i8\"")),
        "{err}"
    );
}

#[test]
fn limits_are_enforced() {
    let bytes = read("encodings_np2_p4.pickle");
    let small = ImportLimits {
        max_input_bytes: 1000,
        ..ImportLimits::default()
    };
    assert!(matches!(
        parse_encodings_pickle_with(&bytes, &small),
        Err(ImportError::TooLarge { .. })
    ));
    let few = ImportLimits {
        max_pickle_items: 50,
        ..ImportLimits::default()
    };
    assert!(matches!(
        parse_encodings_pickle_with(&bytes, &few),
        Err(ImportError::LimitExceeded(_))
    ));
    let two = ImportLimits {
        max_templates: 2,
        ..ImportLimits::default()
    };
    assert!(matches!(
        parse_encodings_pickle_with(&bytes, &two),
        Err(ImportError::LimitExceeded(_))
    ));
    assert!(matches!(
        parse_facebank_csv_with(&read("facebank.csv"), &two),
        Err(ImportError::Csv { line: 4, .. })
    ));
    // Nested MARKs.
    let mut deep = vec![0x80, 0x04];
    deep.extend(std::iter::repeat_n(b'(', 10_000));
    assert!(matches!(
        parse_encodings_pickle(&deep),
        Err(ImportError::LimitExceeded(_))
    ));
    // Memo amplification: one list referenced a million times.
    let mut amp = b"\x80\x04]\x94(".to_vec();
    amp.extend(std::iter::repeat_n(*b"h\x00", 1_000_000).flatten());
    amp.extend_from_slice(b"e.");
    let capped = ImportLimits {
        max_pickle_items: 100_000,
        ..ImportLimits::default()
    };
    assert!(matches!(
        parse_encodings_pickle_with(&amp, &capped),
        Err(ImportError::LimitExceeded(_))
    ));
}

#[test]
fn csv_details() {
    let csv = "\u{feff}\"Lacamoire, Álex\", 0.5 ,-1e-3\r\n\r\nbob,1,2\n\"say \"\"hi\"\"\",3,4";
    let got = parse_facebank_csv(csv.as_bytes()).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].name, "Lacamoire, Álex");
    assert_eq!(got[0].embedding, vec![0.5, -1e-3]);
    assert_eq!(got[2].name, "say \"hi\"");
    assert_eq!(parse_facebank_csv(b"").unwrap(), vec![]);
    assert_eq!(parse_facebank_csv(b"name,e0,e1\n").unwrap(), vec![]);
    // Numpy's str() of an array: whitespace-separated in brackets.
    let got = parse_facebank_csv(b"name,embedding\nann,\"[ 0.25 -0.5\n  1. ]\"\n").unwrap();
    assert_eq!(got[0].embedding, vec![0.25, -0.5, 1.0]);

    let line_of = |text: &str| match parse_facebank_csv(text.as_bytes()) {
        Err(ImportError::Csv { line, message }) => (line, message),
        other => panic!("{text:?}: {other:?}"),
    };
    assert_eq!(line_of("a,1,2\nb,1\n").0, 2);
    assert!(line_of("a,1,2\nb,1,x\n").1.contains("\"x\""));
    assert!(line_of("a,1,nan\n").1.contains("finite"));
    assert!(line_of("a,1\n,2\n").1.contains("empty name"));
    assert!(line_of("a,1\n\"b,2\n").1.contains("unterminated"));
    assert!(
        line_of("a,1\n\"b\"x,2\n")
            .1
            .contains("after a closing quote")
    );
    assert!(line_of("a,1\nb\n").1.contains("expected a name"));
    assert!(line_of("a,1\nb,\"[1, 2\"\n").1.contains("closing"));
    assert!(matches!(
        parse_facebank_csv(b"a,1\n\xff,2\n"),
        Err(ImportError::Csv { line: 2, .. })
    ));
}

#[test]
fn shared_references_cannot_amplify_the_output() {
    // One 2-value encoding referenced 1000 times by 1000 names: a few KB of
    // pickle asking for 1000 templates. Fine by default, refused when the
    // output cap is below what it would take.
    let mut b = b"\x80\x04}(\x8c\x05names](".to_vec();
    for _ in 0..1000 {
        b.extend_from_slice(b"\x8c\x01a");
    }
    b.extend_from_slice(b"e\x8c\x09encodings](](G");
    b.extend_from_slice(&1.0f64.to_be_bytes());
    b.extend_from_slice(b"G");
    b.extend_from_slice(&2.0f64.to_be_bytes());
    b.extend_from_slice(b"e\x94");
    for _ in 0..999 {
        b.extend_from_slice(b"h\x00");
    }
    b.extend_from_slice(b"eu.");
    assert_eq!(parse_encodings_pickle(&b).unwrap().len(), 1000);
    let capped = ImportLimits {
        max_output_bytes: 4000,
        ..ImportLimits::default()
    };
    assert!(matches!(
        parse_encodings_pickle_with(&b, &capped),
        Err(ImportError::LimitExceeded(_))
    ));
    // An over-long vector is refused before it is decoded.
    let small = ImportLimits {
        max_dim: 64,
        ..ImportLimits::default()
    };
    assert!(matches!(
        parse_encodings_pickle_with(&read("encodings_np2_p5.pickle"), &small),
        Err(ImportError::Layout(ref m)) if m.contains("at most 64")
    ));
}
