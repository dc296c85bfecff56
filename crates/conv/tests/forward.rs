//! Forward passes against numbers worked out by hand and against the
//! definition of the convolution.

use crate::common::{Geometry, naive_conv, random};
use strata_conv::{AvgPool2d, Conv2d, Conv2dConfig, GlobalAvgPool, MaxPool2d, Pool2dConfig};
use strata_layers::{Layer, Mode, load_state_dict};
use strata_tensor::{StrataRng, Tensor};

/// A conv layer with the given weights (and bias).
fn conv_with(config: Conv2dConfig, weight: Tensor, bias: Option<Tensor>) -> Conv2d {
    let mut conv = Conv2d::new(config, &mut StrataRng::seed_from_u64(0)).unwrap();
    let mut tensors = vec![("weight".to_string(), weight)];
    tensors.extend(bias.map(|b| ("bias".to_string(), b)));
    load_state_dict(&mut conv, &tensors).unwrap();
    conv
}

/// x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]] as [1, 1, 3, 3].
fn one_to_nine() -> Tensor {
    Tensor::from_vec(&[1, 1, 3, 3], (1..=9).map(|v| v as f32).collect()).unwrap()
}

#[test]
fn tiny_conv_by_hand() {
    // Kernel [[1, 2], [3, 4]], bias 0.5, stride 1, no padding: 2x2 output.
    // y[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37, + 0.5
    // y[0,1] = 1*2 + 2*3 + 3*5 + 4*6 = 47, + 0.5
    // y[1,0] = 1*4 + 2*5 + 3*7 + 4*8 = 67, + 0.5
    // y[1,1] = 1*5 + 2*6 + 3*8 + 4*9 = 77, + 0.5
    let w = Tensor::from_vec(&[1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
    let mut conv = conv_with(Conv2dConfig::new(1, 1, 2), w, Some(Tensor::from_slice(&[0.5])));
    let y = conv.forward(&one_to_nine(), Mode::Eval).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.data(), &[37.5, 47.5, 67.5, 77.5]);
}

#[test]
fn tiny_conv_with_padding_and_stride_by_hand() {
    // Same kernel, padding 1, stride 2, no bias: out = floor((3 + 2 - 1 - 1) / 2) + 1 = 2.
    // Windows start at (-1,-1), (-1,1), (1,-1), (1,1) of the unpadded image;
    // taps falling in the padding read 0.
    // y[0,0] = 4*x[0,0]                       = 4
    // y[0,1] = 3*x[0,1] + 4*x[0,2]             = 6 + 12 = 18
    // y[1,0] = 2*x[1,0] + 4*x[2,0]             = 8 + 28 = 36
    // y[1,1] = 1*5 + 2*6 + 3*8 + 4*9           = 77
    let w = Tensor::from_vec(&[1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
    let config = Conv2dConfig::new(1, 1, 2).with_padding(1).with_stride(2).with_bias(false);
    let mut conv = conv_with(config, w, None);
    assert_eq!(conv.forward(&one_to_nine(), Mode::Eval).unwrap().data(), &[4., 18., 36., 77.]);
}

#[test]
fn tiny_conv_with_dilation_and_two_channels_by_hand() {
    // Dilation 2 makes a 2x2 kernel read the corners of the 3x3 image: one output.
    // Two input channels (the image and the image times 10), two filters:
    // filter 0 = [[1, 0], [0, 0]] on channel 0 and [[0, 0], [0, 1]] on channel 1
    //   -> x[0,0] + 10 * x[2,2] = 1 + 90 = 91
    // filter 1 = all ones on both channels
    //   -> (1 + 3 + 7 + 9) * (1 + 10) = 220
    let x = one_to_nine();
    let x = Tensor::from_vec(&[1, 2, 3, 3], [x.data().to_vec(), x.scale(10.0).into_vec()].concat()).unwrap();
    let mut w = vec![1., 0., 0., 0., 0., 0., 0., 1.];
    w.extend([1.0; 8]);
    let w = Tensor::from_vec(&[2, 2, 2, 2], w).unwrap();
    let mut conv = conv_with(Conv2dConfig::new(2, 2, 2).with_dilation(2).with_bias(false), w, None);
    let y = conv.forward(&x, Mode::Eval).unwrap();
    assert_eq!(y.shape(), &[1, 2, 1, 1]);
    assert_eq!(y.data(), &[91., 220.]);
}

#[test]
fn conv_matches_the_definition_for_many_geometries() {
    // (kernel, stride, padding, dilation) with rectangular variants, against
    // the six nested loops of `naive_conv`.
    let cases: &[Geometry] = &[
        ([3, 3], [1, 1], [1, 1], [1, 1]),
        ([3, 3], [2, 2], [0, 0], [1, 1]),
        ([1, 1], [1, 1], [0, 0], [1, 1]),
        ([5, 5], [1, 1], [2, 2], [1, 1]),
        ([3, 2], [2, 1], [1, 0], [1, 1]),
        ([3, 3], [1, 1], [2, 2], [2, 2]),
        ([2, 3], [3, 2], [1, 2], [2, 1]),
        ([3, 3], [2, 2], [3, 3], [1, 1]), // padding larger than half the kernel
        ([7, 7], [1, 1], [0, 0], [1, 1]), // kernel as large as the input
    ];
    for (case, &(kernel, stride, padding, dilation)) in cases.iter().enumerate() {
        for bias in [true, false] {
            let config =
                Conv2dConfig { kernel_size: kernel, stride, padding, dilation, bias, ..Conv2dConfig::new(3, 4, 1) };
            let mut conv = Conv2d::new(config.clone(), &mut StrataRng::seed_from_u64(case as u64)).unwrap();
            let b = Tensor::from_slice(&[0.1, -0.2, 0.3, 0.0]);
            if bias {
                let w = conv.weight().clone();
                load_state_dict(&mut conv, &[("weight".into(), w), ("bias".into(), b.clone())]).unwrap();
            }
            let x = random(&[2, 3, 7, 8], 10 + case as u64);
            let expected = naive_conv(&x, conv.weight(), bias.then_some(&b), &config);
            let y = conv.forward(&x, Mode::Eval).unwrap();
            assert_eq!(y.shape(), expected.shape(), "case {case}");
            let diff = y.max_abs_diff(&expected).unwrap();
            assert!(diff < 1e-5, "case {case} (bias {bias}): max difference {diff}");
        }
    }
}

#[test]
fn train_and_eval_forward_agree() {
    let mut conv = Conv2d::new(Conv2dConfig::new(2, 3, 3).with_padding(1), &mut StrataRng::seed_from_u64(1)).unwrap();
    let x = random(&[3, 2, 6, 6], 2);
    let a = conv.forward(&x, Mode::Train).unwrap().clone();
    assert_eq!(&a, conv.forward(&x, Mode::Eval).unwrap());
}

#[test]
fn pools_by_hand() {
    // 4x4 image 0..15: 2x2 windows of stride 2.
    // max: [[5, 7], [13, 15]]; mean: [[(0+1+4+5)/4, (2+3+6+7)/4], ...] = [[2.5, 4.5], [10.5, 12.5]]
    let x = Tensor::from_vec(&[1, 1, 4, 4], (0..16).map(|v| v as f32).collect()).unwrap();
    let mut max = MaxPool2d::new(Pool2dConfig::new(2)).unwrap();
    assert_eq!(max.forward(&x, Mode::Eval).unwrap().data(), &[5., 7., 13., 15.]);
    let mut avg = AvgPool2d::new(Pool2dConfig::new(2)).unwrap();
    assert_eq!(avg.forward(&x, Mode::Eval).unwrap().data(), &[2.5, 4.5, 10.5, 12.5]);

    // 3x3 windows of stride 1 (overlapping): 2x2 outputs.
    // max: [[10, 11], [14, 15]]; mean of the window at (0,0) = (0+1+2+4+5+6+8+9+10)/9 = 5
    let mut max = MaxPool2d::new(Pool2dConfig::new(3).with_stride(1)).unwrap();
    assert_eq!(max.forward(&x, Mode::Eval).unwrap().data(), &[10., 11., 14., 15.]);
    let mut avg = AvgPool2d::new(Pool2dConfig::new(3).with_stride(1)).unwrap();
    assert_eq!(avg.forward(&x, Mode::Eval).unwrap().data(), &[5., 6., 9., 10.]);

    // Rectangular 1x4 windows: the maximum and mean of each row.
    let mut max = MaxPool2d::new(Pool2dConfig { kernel: [1, 4], stride: None }).unwrap();
    assert_eq!(max.forward(&x, Mode::Eval).unwrap().data(), &[3., 7., 11., 15.]);

    // Global: the mean of each [4, 4] plane; a second channel of 2x.
    let x2 = Tensor::from_vec(&[1, 2, 4, 4], [x.data().to_vec(), x.scale(2.0).into_vec()].concat()).unwrap();
    let mut global = GlobalAvgPool::new();
    assert_eq!(global.forward(&x2, Mode::Eval).unwrap().data(), &[7.5, 15.0]);
}

#[test]
fn max_pool_gradient_goes_to_the_argmax_only() {
    let x = Tensor::from_vec(&[1, 1, 2, 4], vec![1., 5., 2., 0., 3., 4., 8., 7.]).unwrap();
    let mut pool = MaxPool2d::new(Pool2dConfig::new(2)).unwrap();
    pool.forward(&x, Mode::Train).unwrap();
    let dx = pool.backward(&Tensor::from_vec(&[1, 1, 1, 2], vec![10., 20.]).unwrap()).unwrap();
    assert_eq!(dx.data(), &[0., 10., 0., 0., 0., 0., 20., 0.]);
}

#[test]
fn max_pooling_follows_pytorch_on_ties_and_nan() {
    // PyTorch's CPU kernel scans a window row by row, replacing the maximum
    // when `val > max || isnan(val)`: the first of equal maxima wins, and a
    // NaN wins over any number (the window's last NaN). The gradient goes to
    // the winner. x = [[5, 5, 1, NaN], [5, 2, NaN, 3]], flat indices 0..8.
    let nan = f32::NAN;
    let x = Tensor::from_vec(&[1, 1, 2, 4], vec![5.0, 5.0, 1.0, nan, 5.0, 2.0, nan, 3.0]).unwrap();
    let run = |config: Pool2dConfig| {
        let mut pool = MaxPool2d::new(config).unwrap();
        let y = pool.forward(&x, Mode::Train).unwrap().clone();
        let dx = pool.backward(&Tensor::ones(y.shape())).unwrap().clone();
        (y, dx)
    };
    // 2x2, stride 2 (the fast path): windows {5, 5 | 5, 2} and {1, NaN | NaN, 3}.
    let (y, dx) = run(Pool2dConfig::new(2));
    assert!(y.data()[0] == 5.0 && y.data()[1].is_nan(), "{y:?}");
    assert_eq!(dx.data(), &[1., 0., 0., 0., 0., 0., 1., 0.], "first 5 (index 0), last NaN (index 6)");
    // 2x2, stride [2, 1] (the general path): three windows; the second,
    // {5, 1 | 2, NaN}, and the third both pick the NaN at index 6.
    let (y, dx) = run(Pool2dConfig { kernel: [2, 2], stride: Some([2, 1]) });
    assert!(y.data()[0] == 5.0 && y.data()[1].is_nan() && y.data()[2].is_nan(), "{y:?}");
    assert_eq!(dx.data(), &[1., 0., 0., 0., 0., 0., 2., 0.]);
}

/// PyTorch's scan of one 2x2 window of stride 2 (see the test above): the
/// output, and the flat input index its gradient goes to.
fn scan_2x2(x: &[f32], [h, w]: [usize; 2], plane: usize, (oy, ox): (usize, usize)) -> (f32, usize) {
    let at = |i: usize, j: usize| plane * h * w + (2 * oy + i) * w + 2 * ox + j;
    let mut best = at(0, 0);
    for (i, j) in [(0, 1), (1, 0), (1, 1)] {
        let v = x[at(i, j)];
        if v > x[best] || v.is_nan() {
            best = at(i, j);
        }
    }
    (x[best], best)
}

#[test]
fn max_pool_2x2_matches_the_window_scan_on_every_width() {
    // The 2x2 path takes 16 windows of a row at a time, reading and writing
    // past the row's end where the plane allows: every width from 2 to 41
    // (rows of 1 to 20 windows, odd widths dropping a column), odd heights,
    // values from {0, 1, 2, 3} (many ties), and a NaN in one plane of three.
    let mut rng = StrataRng::seed_from_u64(7);
    for w in 2..42 {
        for h in [2, 3, 6] {
            let (planes, (ho, wo)) = (6, (h / 2, w / 2));
            let mut x: Vec<f32> = (0..planes * h * w).map(|_| rng.below(4) as f32).collect();
            for plane in (0..planes).step_by(3) {
                let cell = rng.below(h * w);
                x[plane * h * w + cell] = f32::NAN;
            }
            let g: Vec<f32> = (0..planes * ho * wo).map(|i| (i + 1) as f32).collect();
            let mut pool = MaxPool2d::new(Pool2dConfig::new(2)).unwrap();
            let input = Tensor::from_vec(&[2, 3, h, w], x.clone()).unwrap();
            let y = pool.forward(&input, Mode::Train).unwrap().clone();
            let dx = pool.backward(&Tensor::from_vec(&[2, 3, ho, wo], g.clone()).unwrap()).unwrap();
            let mut expected_dx = vec![0f32; x.len()];
            for plane in 0..planes {
                for (oy, ox) in (0..ho).flat_map(|oy| (0..wo).map(move |ox| (oy, ox))) {
                    let out = (plane * ho + oy) * wo + ox;
                    let (v, from) = scan_2x2(&x, [h, w], plane, (oy, ox));
                    assert_eq!(y.data()[out].to_bits(), v.to_bits(), "{h}x{w}, plane {plane}, window ({oy}, {ox})");
                    expected_dx[from] += g[out];
                }
            }
            assert_eq!(dx.data(), &expected_dx[..], "{h}x{w}: the gradient goes to each window's winner");
        }
    }
}
