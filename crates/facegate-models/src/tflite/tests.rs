//! Reader and refusal tests on tiny models assembled byte by byte, so they
//! need no model download.

use super::*;
use crate::onnx::proto::ModelProto;
use prost::Message;

/// A field value for the test-only FlatBuffers writer below.
enum F {
    I8(i8),
    I32(i32),
    U32(u32),
    Table(Vec<(usize, F)>),
    Tables(Vec<Vec<(usize, F)>>),
    I32s(Vec<i32>),
    Bytes(Vec<u8>),
    Str(&'static str),
}

/// Writes `fields` as a table; children are laid out after their parent so
/// that every `uoffset` points forward, as the format requires.
fn write_table(out: &mut Vec<u8>, fields: &[(usize, F)]) -> usize {
    let slots = fields.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
    let vt = out.len();
    out.extend_from_slice(&((4 + 2 * slots) as u16).to_le_bytes());
    out.extend_from_slice(&((4 + 4 * fields.len()) as u16).to_le_bytes());
    out.extend(std::iter::repeat_n(0u8, 2 * slots));
    let table = out.len();
    out.extend_from_slice(&((table - vt) as i32).to_le_bytes());
    let mut refs = Vec::new();
    for (k, (idx, val)) in fields.iter().enumerate() {
        let off = (4 + 4 * k) as u16;
        out[vt + 4 + 2 * idx..vt + 6 + 2 * idx].copy_from_slice(&off.to_le_bytes());
        let p = out.len();
        match val {
            F::I8(v) => out.extend_from_slice(&[*v as u8, 0, 0, 0]),
            F::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            F::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
            _ => {
                out.extend_from_slice(&[0; 4]);
                refs.push((p, val));
            }
        }
    }
    for (p, val) in refs {
        let child = write_child(out, val);
        out[p..p + 4].copy_from_slice(&((child - p) as u32).to_le_bytes());
    }
    table
}

fn write_child(out: &mut Vec<u8>, val: &F) -> usize {
    match val {
        F::Table(fields) => write_table(out, fields),
        F::I32s(v) => {
            let p = out.len();
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            v.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            p
        }
        F::Bytes(v) => {
            let p = out.len();
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
            p
        }
        F::Str(s) => {
            let p = out.len();
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
            p
        }
        F::Tables(tables) => {
            let p = out.len();
            out.extend_from_slice(&(tables.len() as u32).to_le_bytes());
            let slots: Vec<usize> = tables
                .iter()
                .map(|_| {
                    out.extend_from_slice(&[0; 4]);
                    out.len() - 4
                })
                .collect();
            for (slot, t) in slots.into_iter().zip(tables) {
                let child = write_table(out, t);
                out[slot..slot + 4].copy_from_slice(&((child - slot) as u32).to_le_bytes());
            }
            p
        }
        F::I8(_) | F::I32(_) | F::U32(_) => unreachable!("scalars are inline"),
    }
}

fn finish(root: &[(usize, F)]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    out.extend_from_slice(b"TFL3");
    let t = write_table(&mut out, root);
    out[0..4].copy_from_slice(&(t as u32).to_le_bytes());
    out
}

fn tensor(name: &'static str, shape: Vec<i32>, buffer: u32) -> Vec<(usize, F)> {
    vec![
        (0, F::I32s(shape)),
        (1, F::I8(0)),
        (2, F::U32(buffer)),
        (3, F::Str(name)),
    ]
}

/// A one-operator model `y = op(x)` on a [1, 4] float tensor. The opcode is
/// written to the int32 field, or to the deprecated int8 one when `deprecated`.
fn one_op_model(code: i32, custom: Option<&'static str>, deprecated: bool) -> Vec<u8> {
    let mut opcode = vec![(2, F::I32(1))];
    if deprecated {
        opcode.push((0, F::I8(code as i8)));
    } else {
        opcode.push((3, F::I32(code)));
    }
    if let Some(c) = custom {
        opcode.push((1, F::Str(c)));
    }
    finish(&[
        (0, F::U32(3)),
        (1, F::Tables(vec![opcode])),
        (
            2,
            F::Tables(vec![vec![
                (
                    0,
                    F::Tables(vec![tensor("x", vec![1, 4], 0), tensor("y", vec![1, 4], 0)]),
                ),
                (1, F::I32s(vec![0])),
                (2, F::I32s(vec![1])),
                (
                    3,
                    F::Tables(vec![vec![
                        (0, F::U32(0)),
                        (1, F::I32s(vec![0])),
                        (2, F::I32s(vec![1])),
                    ]]),
                ),
            ]]),
        ),
        (4, F::Tables(vec![vec![]])),
    ])
}

const RELU: i32 = 19;
const SOFTMAX: i32 = 25;

#[test]
fn converts_a_hand_built_model() {
    let bytes = convert(&one_op_model(RELU, None, false)).expect("converts");
    let m = ModelProto::decode(bytes.as_slice()).expect("valid protobuf");
    let g = m.graph.expect("graph");
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    // Graph outputs get the TFLite names through a final Identity.
    assert_eq!(ops, ["Relu", "Identity"]);
    assert_eq!(g.input[0].name, "x");
    assert_eq!(g.output[0].name, "y");
    assert_eq!(g.node[0].input, vec!["x".to_owned()]);
    assert_eq!(g.node[1].output, vec!["y".to_owned()]);
    assert_eq!(m.opset_import[0].version, crate::onnx::OPSET_VERSION);
}

#[test]
fn reads_the_deprecated_opcode_field() {
    let s = inspect(&one_op_model(RELU, None, true)).expect("parses");
    assert_eq!(s.operators, vec!["RELU"]);
    assert_eq!(
        s.inputs[0],
        TensorSummary {
            name: "x".into(),
            shape: vec![1, 4],
            dtype: TensorType::Float32
        }
    );
    assert_eq!(s.schema_version, 3);
}

#[test]
fn refuses_unsupported_operators_by_name() {
    let e = convert(&one_op_model(SOFTMAX, None, false)).unwrap_err();
    assert!(
        matches!(
            e,
            TfliteError::UnsupportedOperator {
                op: "SOFTMAX",
                index: 0,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("SOFTMAX"));

    let e = convert(&one_op_model(32, Some("MyCustomOp"), false)).unwrap_err();
    match &e {
        TfliteError::UnsupportedOperator {
            op: "CUSTOM",
            custom: Some(c),
            ..
        } => assert_eq!(c, "MyCustomOp"),
        other => panic!("unexpected {other}"),
    }
    let e = convert(&one_op_model(100_000, None, false)).unwrap_err();
    assert!(
        matches!(e, TfliteError::UnsupportedOperator { op: "UNKNOWN", .. }),
        "{e}"
    );

    let s = inspect(&one_op_model(32, Some("MyCustomOp"), false)).unwrap();
    assert_eq!(
        s.unsupported_operators(),
        vec!["CUSTOM:MyCustomOp".to_owned()]
    );
}

#[test]
fn rejects_files_that_are_not_tflite() {
    assert!(matches!(convert(b""), Err(TfliteError::NotTflite(_))));
    assert!(matches!(
        convert(b"\x08\0\0\0ONNX...."),
        Err(TfliteError::NotTflite(_))
    ));
    let mut bytes = one_op_model(RELU, None, false);
    bytes[4..8].copy_from_slice(b"XXXX");
    assert!(matches!(convert(&bytes), Err(TfliteError::NotTflite(_))));
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let bytes = one_op_model(RELU, None, false);
    for len in 0..bytes.len() {
        assert!(
            convert(&bytes[..len]).is_err(),
            "truncated to {len} bytes still converted"
        );
    }
}

#[test]
fn bad_offsets_are_errors_not_panics() {
    let bytes = one_op_model(RELU, None, false);
    let mut root = bytes.clone();
    root[0..4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(matches!(convert(&root), Err(TfliteError::Malformed { .. })));

    // Overwrite every aligned word and every byte with hostile values: any
    // outcome but a panic is acceptable.
    for pos in 8..bytes.len() {
        for v in [0xffu8, 0x7f, 0x80, 0x00] {
            let mut b = bytes.clone();
            b[pos] = v;
            let _ = convert(&b);
            let _ = inspect(&b);
        }
        if pos % 4 == 0 && pos + 4 <= bytes.len() {
            for v in [u32::MAX, 0x8000_0000, 0x7fff_ffff, 1] {
                let mut b = bytes.clone();
                b[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
                let _ = convert(&b);
            }
        }
    }
}

#[test]
fn out_of_range_tensor_indices_are_reported() {
    let bytes = finish(&[
        (0, F::U32(3)),
        (1, F::Tables(vec![vec![(3, F::I32(RELU))]])),
        (
            2,
            F::Tables(vec![vec![
                (0, F::Tables(vec![tensor("x", vec![1, 4], 0)])),
                (1, F::I32s(vec![0])),
                (2, F::I32s(vec![0])),
                (
                    3,
                    F::Tables(vec![vec![
                        (0, F::U32(0)),
                        (1, F::I32s(vec![7])),
                        (2, F::I32s(vec![0])),
                    ]]),
                ),
            ]]),
        ),
        (4, F::Tables(vec![vec![]])),
    ]);
    let e = convert(&bytes).unwrap_err();
    assert!(matches!(e, TfliteError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn constant_with_wrong_byte_count_is_invalid() {
    // ADD(x, c) where c claims shape [4] but its buffer holds 3 bytes.
    let bytes = finish(&[
        (0, F::U32(3)),
        (1, F::Tables(vec![vec![(3, F::I32(0))]])),
        (
            2,
            F::Tables(vec![vec![
                (
                    0,
                    F::Tables(vec![
                        tensor("x", vec![1, 4], 0),
                        tensor("c", vec![4], 1),
                        tensor("y", vec![1, 4], 0),
                    ]),
                ),
                (1, F::I32s(vec![0])),
                (2, F::I32s(vec![2])),
                (
                    3,
                    F::Tables(vec![vec![
                        (0, F::U32(0)),
                        (1, F::I32s(vec![0, 1])),
                        (2, F::I32s(vec![2])),
                    ]]),
                ),
            ]]),
        ),
        (
            4,
            F::Tables(vec![vec![], vec![(0, F::Bytes(vec![1, 2, 3]))]]),
        ),
    ]);
    let e = convert(&bytes).unwrap_err();
    assert!(matches!(e, TfliteError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("bytes of data"), "{e}");
}

#[test]
fn fused_tanh_is_refused() {
    // ADD(x, x) with AddOptions { fused_activation_function: TANH }.
    let add_options = vec![(0, F::I8(4))];
    let bytes = finish(&[
        (0, F::U32(3)),
        (1, F::Tables(vec![vec![(3, F::I32(0))]])),
        (
            2,
            F::Tables(vec![vec![
                (
                    0,
                    F::Tables(vec![tensor("x", vec![1, 4], 0), tensor("y", vec![1, 4], 0)]),
                ),
                (1, F::I32s(vec![0])),
                (2, F::I32s(vec![1])),
                (
                    3,
                    F::Tables(vec![vec![
                        (0, F::U32(0)),
                        (1, F::I32s(vec![0, 0])),
                        (2, F::I32s(vec![1])),
                        (3, F::I8(11)),
                        (4, F::Table(add_options)),
                    ]]),
                ),
            ]]),
        ),
        (4, F::Tables(vec![vec![]])),
    ]);
    let e = convert(&bytes).unwrap_err();
    assert!(
        matches!(&e, TfliteError::UnsupportedFeature { op: "ADD", index: 0, detail } if detail.contains("TANH")),
        "{e}"
    );
}
