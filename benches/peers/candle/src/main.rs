//! candle's figures for W2 (784-256-128-10 MLP, Adam 1e-3, an epoch of the
//! MNIST 5k training part at batch 64 and 256, samples/s) and W5 (batch-1
//! forward of the same MLP, median µs over 10,000 calls), printed as the
//! `candle ID VALUE` lines `cargo xtask bench --peers` reads. The protocol
//! is the PyTorch script's (benches/peers/torch_bench.py): median of 5
//! epochs after one warm-up. Threads: RAYON_NUM_THREADS (xtask sets 2).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{AdamW, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap, linear};
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Mlp {
    layers: [Linear; 3],
}

impl Mlp {
    fn new(vb: VarBuilder) -> Result<Mlp> {
        Ok(Mlp { layers: [linear(784, 256, vb.pp("0"))?, linear(256, 128, vb.pp("2"))?, linear(128, 10, vb.pp("4"))?] })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.layers[0].forward(x)?.relu()?;
        let h = self.layers[1].forward(&h)?.relu()?;
        self.layers[2].forward(&h)
    }
}

/// The first 4000 rows of `data/mnist_5k.csv.gz`: pixels / 255 and labels.
fn mnist(path: &str) -> Result<(Vec<f32>, Vec<u32>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path)?);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(gz);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for record in reader.records().take(4000) {
        let record = record?;
        let n = record.len();
        for cell in record.iter().take(n - 1) {
            x.push(cell.parse::<f32>()? / 255.0);
        }
        y.push(record[n - 1].parse::<f32>()? as u32);
    }
    Ok((x, y))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn w2(data: &str, quick: bool) -> Result<()> {
    let dev = Device::Cpu;
    let (x, y) = mnist(data)?;
    let x = Tensor::from_vec(x, (4000, 784), &dev)?;
    let y = Tensor::from_vec(y, 4000, &dev)?;
    for bs in [64usize, 256] {
        let varmap = VarMap::new();
        let model = Mlp::new(VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
        let params = ParamsAdamW { lr: 1e-3, weight_decay: 0.0, ..ParamsAdamW::default() };
        let mut opt = AdamW::new(varmap.all_vars(), params)?;
        let mut epoch = || -> Result<()> {
            for i in (0..4000).step_by(bs) {
                let n = bs.min(4000 - i);
                let logits = model.forward(&x.narrow(0, i, n)?)?;
                let loss = candle_nn::loss::cross_entropy(&logits, &y.narrow(0, i, n)?)?;
                opt.backward_step(&loss)?;
            }
            Ok(())
        };
        epoch()?;
        let mut times = Vec::new();
        for _ in 0..(if quick { 3 } else { 5 }) {
            let t = Instant::now();
            epoch()?;
            times.push(t.elapsed().as_secs_f64());
        }
        println!("candle W2-b{bs} {:.3}", 4000.0 / median(times));
    }
    Ok(())
}

fn w5(quick: bool) -> Result<()> {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let model = Mlp::new(VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    let x = Tensor::rand(0f32, 1f32, (1, 784), &dev)?;
    for _ in 0..200 {
        model.forward(&x)?;
    }
    let mut times = Vec::new();
    for _ in 0..(if quick { 1000 } else { 10_000 }) {
        let t = Instant::now();
        std::hint::black_box(model.forward(&x)?);
        times.push(t.elapsed().as_secs_f64());
    }
    println!("candle W5 {:.3}", median(times) * 1e6);
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = args.get(1).ok_or("usage: candle-peer DATA.csv.gz [--only ID] [--quick]")?;
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    let quick = args.iter().any(|a| a == "--quick");
    let wanted = |id: &str| only.is_none_or(|o| id == o || id.starts_with(&format!("{o}-")));
    if wanted("W2-b64") || wanted("W2-b256") || only.is_some_and(|o| o == "W2") {
        w2(data, quick)?;
    }
    if wanted("W5") {
        w5(quick)?;
    }
    Ok(())
}
