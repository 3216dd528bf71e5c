//! Reader of the reference files written by tools/predict_reference_*.py (line format documented
//! in `write_text` of tools/predict_reference_nt.py).

#![allow(dead_code)]

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct LawRef {
    pub get: String,
    /// None: neural-tangents' `t = None` (gp_inference, Cholesky); else the time (ntk convention).
    pub t: Option<f64>,
    pub mean: Mat,
    pub cov: Mat,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub n: usize,
    pub m: usize,
    pub k: usize,
    pub ridge: f64,
    pub relative: bool,
    pub mats: BTreeMap<String, Mat>,
    pub laws: Vec<LawRef>,
}

impl Case {
    pub fn mat(&self, name: &str) -> &Mat {
        &self.mats[name]
    }
}

fn parse_mat(words: &[&str]) -> (String, Mat) {
    let name = words[1].to_string();
    let rows: usize = words[2].parse().unwrap();
    let cols: usize = words[3].parse().unwrap();
    let data: Vec<f64> = words[4..]
        .iter()
        .map(|w| w.parse::<f64>().unwrap())
        .collect();
    assert_eq!(data.len(), rows * cols, "matrix {name}");
    (name, Mat { rows, cols, data })
}

pub fn read(path: &str) -> Vec<Case> {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    let mut cases = Vec::new();
    let mut cur: Option<Case> = None;
    let mut pending: Option<(String, Option<f64>, Option<Mat>)> = None;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "case" => {
                cur = Some(Case {
                    name: w[1].into(),
                    n: w[2].parse().unwrap(),
                    m: w[3].parse().unwrap(),
                    k: w[4].parse().unwrap(),
                    ridge: w[5].parse().unwrap(),
                    relative: w[6] == "1",
                    mats: BTreeMap::new(),
                    laws: Vec::new(),
                })
            }
            "law" => {
                let t = if w[2] == "none" {
                    None
                } else {
                    Some(w[2].parse::<f64>().unwrap())
                };
                pending = Some((w[1].into(), t, None));
            }
            "mat" => {
                let (name, m) = parse_mat(&w);
                let c = cur.as_mut().unwrap();
                match pending.take() {
                    None => {
                        c.mats.insert(name, m);
                    }
                    Some((g, t, None)) => {
                        assert_eq!(name, "mean");
                        pending = Some((g, t, Some(m)));
                    }
                    Some((g, t, Some(mean))) => {
                        assert_eq!(name, "cov");
                        c.laws.push(LawRef {
                            get: g,
                            t,
                            mean,
                            cov: m,
                        });
                    }
                }
            }
            "end" => cases.push(cur.take().unwrap()),
            other => panic!("unknown line kind {other}"),
        }
    }
    cases
}

/// max |a − b| / max |b| (0 when both vanish).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |s, (x, y)| s.max((x - y).abs()));
    if diff == 0.0 {
        0.0
    } else {
        diff / scale
    }
}
