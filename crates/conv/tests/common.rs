//! Helpers: a registry with this crate's kinds, random tensors, a naive
//! reference convolution and a finite-difference gradient check.

use strata_conv::Conv2dConfig;
use strata_layers::{Layer, Mode, Registry};
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

/// `(kernel, stride, padding, dilation)`, each `[height, width]`.
pub type Geometry = ([usize; 2], [usize; 2], [usize; 2], [usize; 2]);

/// The built-in kinds plus this crate's.
pub fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    strata_conv::register(&mut r).unwrap();
    r
}

/// Uniform values in `[-1, 1)`.
pub fn random(shape: &[usize], seed: u64) -> Tensor {
    Tensor::random_uniform(shape, -1.0, 1.0, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

/// Distinct values `0.1 * k` in a random order: no two entries of a pooling
/// window are within a finite-difference step of each other.
pub fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut order: Vec<usize> = (0..n).collect();
    StrataRng::seed_from_u64(seed).shuffle(&mut order);
    Tensor::from_vec(shape, order.into_iter().map(|k| k as f32 * 0.1 - n as f32 * 0.05).collect()).unwrap()
}

/// The convolution by its definition, one output at a time, in f64.
pub fn naive_conv(x: &Tensor, w: &Tensor, b: Option<&Tensor>, c: &Conv2dConfig) -> Tensor {
    let [n, ci, h, wd] = x.shape().try_into().unwrap();
    let [o, _, kh, kw] = w.shape().try_into().unwrap();
    let out = |axis: usize, len: usize, k: usize| {
        (len + 2 * c.padding[axis] - c.dilation[axis] * (k - 1) - 1) / c.stride[axis] + 1
    };
    let (ho, wo) = (out(0, h, kh), out(1, wd, kw));
    let mut y = vec![0f32; n * o * ho * wo];
    for img in 0..n {
        for oc in 0..o {
            for i in 0..ho {
                for j in 0..wo {
                    let mut acc = b.map_or(0.0, |b| f64::from(b.data()[oc]));
                    for cc in 0..ci {
                        for u in 0..kh {
                            for v in 0..kw {
                                let yy = (i * c.stride[0] + u * c.dilation[0]) as isize - c.padding[0] as isize;
                                let xx = (j * c.stride[1] + v * c.dilation[1]) as isize - c.padding[1] as isize;
                                if yy < 0 || xx < 0 || yy >= h as isize || xx >= wd as isize {
                                    continue;
                                }
                                let xv = x.get(&[img, cc, yy as usize, xx as usize]).unwrap();
                                acc += f64::from(w.get(&[oc, cc, u, v]).unwrap()) * f64::from(xv);
                            }
                        }
                    }
                    y[((img * o + oc) * ho + i) * wo + j] = acc as f32;
                }
            }
        }
    }
    Tensor::from_vec(&[n, o, ho, wo], y).unwrap()
}

/// `sum(forward(x) * r)` in f64 (inference mode).
fn weighted_sum(layer: &mut dyn Layer, x: &Tensor, r: &Tensor) -> f64 {
    let y = layer.forward(x, Mode::Eval).unwrap();
    y.data().iter().zip(r.data()).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum()
}

/// Apply `f` to parameter `name` of `layer`.
fn with_param(layer: &mut dyn Layer, name: &str, f: &mut dyn FnMut(&mut Tensor)) {
    let mut path = String::new();
    let mut visit = |p: strata_tensor::ParamRef<'_>| {
        if p.name == name {
            f(p.value);
        }
    };
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut visit));
}

/// At most `max` indices spread over `0..n`.
fn sample_indices(n: usize, max: usize) -> Vec<usize> {
    if n <= max { (0..n).collect() } else { (0..max).map(|i| i * n / max).collect() }
}

fn compare(what: &str, index: usize, analytic: f32, numeric: f64) {
    let (a, n) = (f64::from(analytic), numeric);
    let tol = 2e-3 + 2e-3 * a.abs().max(n.abs());
    assert!((a - n).abs() <= tol, "{what}[{index}]: backward gives {a}, finite differences {n}");
}

/// Check `dL/dx` and `dL/dparam` of `L = sum(layer(x) * r)` (random `r`)
/// against central differences with step `step`, on at most `max` entries
/// of each tensor. Returns the number of entries compared.
pub fn check_gradients(layer: &mut dyn Layer, x: &Tensor, step: f32, max: usize) -> usize {
    let y_shape = layer.forward(x, Mode::Train).unwrap().shape().to_vec();
    let r = random(&y_shape, 99);
    layer.zero_grad();
    layer.forward(x, Mode::Train).unwrap();
    let dx = layer.backward(&r).unwrap().clone();
    assert_eq!(dx.shape(), x.shape());
    let mut grads: Vec<(String, Tensor)> = Vec::new();
    let mut path = String::new();
    let mut collect = |p: strata_tensor::ParamRef<'_>| grads.push((p.name.to_string(), p.grad.unwrap().clone()));
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut collect));

    let mut checked = 0;
    let mut xp = x.clone();
    for i in sample_indices(x.len(), max) {
        let orig = xp.data()[i];
        xp.data_mut()[i] = orig + step;
        let up = weighted_sum(layer, &xp, &r);
        xp.data_mut()[i] = orig - step;
        let down = weighted_sum(layer, &xp, &r);
        xp.data_mut()[i] = orig;
        compare("input", i, dx.data()[i], (up - down) / (2.0 * f64::from(step)));
        checked += 1;
    }
    for (name, grad) in &grads {
        for i in sample_indices(grad.len(), max) {
            let mut orig = 0.0;
            with_param(layer, name, &mut |t| {
                orig = t.data()[i];
                t.data_mut()[i] = orig + step;
            });
            let up = weighted_sum(layer, x, &r);
            with_param(layer, name, &mut |t| t.data_mut()[i] = orig - step);
            let down = weighted_sum(layer, x, &r);
            with_param(layer, name, &mut |t| t.data_mut()[i] = orig);
            compare(name, i, grad.data()[i], (up - down) / (2.0 * f64::from(step)));
            checked += 1;
        }
    }
    checked
}
