//! Output shapes: the formula, `output_shape` and the shape `forward`
//! actually produces agree.

use crate::common::random;
use strata_conv::{AvgPool2d, Conv2d, Conv2dConfig, GlobalAvgPool, MaxPool2d, Pool2dConfig};
use strata_layers::{Layer, Mode, dims};
use strata_tensor::StrataRng;

/// out = floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1
fn formula(input: usize, k: usize, stride: usize, pad: usize, dilation: usize) -> Option<usize> {
    let num = (input + 2 * pad).checked_sub(dilation * (k - 1) + 1)?;
    Some(num / stride + 1)
}

#[test]
fn conv_output_shapes_follow_the_formula() {
    let mut checked = 0;
    for input in [1, 2, 5, 8, 11] {
        for k in [1, 2, 3, 5] {
            for stride in [1, 2, 3] {
                for pad in [0, 1, 2] {
                    for dilation in [1, 2, 3] {
                        let config =
                            Conv2dConfig::new(2, 3, k).with_stride(stride).with_padding(pad).with_dilation(dilation);
                        let mut conv = Conv2d::new(config, &mut StrataRng::seed_from_u64(0)).unwrap();
                        let sample = [2, input, input + 1];
                        match (formula(input, k, stride, pad, dilation), formula(input + 1, k, stride, pad, dilation)) {
                            (Some(h), Some(w)) => {
                                assert_eq!(conv.output_shape(&dims(&sample)).unwrap(), vec![3, h, w]);
                                let y = conv.forward(&random(&[2, 2, input, input + 1], 1), Mode::Eval).unwrap();
                                assert_eq!(y.shape(), &[2, 3, h, w]);
                                checked += 1;
                            }
                            _ => {
                                assert!(
                                    conv.output_shape(&dims(&sample)).is_err(),
                                    "{sample:?} k{k} s{stride} p{pad} d{dilation}"
                                );
                                assert!(conv.forward(&random(&[1, 2, input, input + 1], 1), Mode::Eval).is_err());
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 300, "{checked} shapes checked");
}

#[test]
fn a_padded_3x3_conv_keeps_the_size() {
    let conv = Conv2d::new(Conv2dConfig::new(4, 4, 3).with_padding(1), &mut StrataRng::seed_from_u64(0)).unwrap();
    for hw in [1, 2, 7, 28, 33] {
        assert_eq!(conv.output_shape(&dims(&[4, hw, hw])).unwrap(), vec![4, hw, hw]);
    }
    // 5x5 with padding 2, and a dilated 3x3 with padding 2, too.
    let conv = Conv2d::new(Conv2dConfig::new(1, 1, 5).with_padding(2), &mut StrataRng::seed_from_u64(0)).unwrap();
    assert_eq!(conv.output_shape(&dims(&[1, 9, 6])).unwrap(), vec![1, 9, 6]);
    let config = Conv2dConfig::new(1, 1, 3).with_padding(2).with_dilation(2);
    let conv = Conv2d::new(config, &mut StrataRng::seed_from_u64(0)).unwrap();
    assert_eq!(conv.output_shape(&dims(&[1, 9, 6])).unwrap(), vec![1, 9, 6]);
}

#[test]
fn pool_output_shapes_follow_the_formula() {
    for input in [2, 3, 4, 7, 28] {
        for k in [1, 2, 3] {
            for stride in [1, 2, 3] {
                let config = Pool2dConfig::new(k).with_stride(stride);
                let mut layers: [Box<dyn Layer>; 2] =
                    [Box::new(MaxPool2d::new(config.clone()).unwrap()), Box::new(AvgPool2d::new(config).unwrap())];
                for layer in &mut layers {
                    match formula(input, k, stride, 0, 1) {
                        Some(o) => {
                            assert_eq!(layer.output_shape(&dims(&[3, input, input])).unwrap(), vec![3, o, o]);
                            let y = layer.forward(&random(&[2, 3, input, input], 0), Mode::Eval).unwrap();
                            assert_eq!(y.shape(), &[2, 3, o, o]);
                        }
                        None => assert!(layer.output_shape(&dims(&[3, input, input])).is_err()),
                    }
                }
            }
        }
    }
    // Stride defaults to the kernel: 28 -> 14 -> 7, and 7 -> 3 (floor).
    let pool = MaxPool2d::new(Pool2dConfig::new(2)).unwrap();
    assert_eq!(pool.output_shape(&dims(&[8, 28, 28])).unwrap(), vec![8, 14, 14]);
    assert_eq!(pool.output_shape(&dims(&[8, 7, 7])).unwrap(), vec![8, 3, 3]);
    assert_eq!(GlobalAvgPool::new().output_shape(&dims(&[16, 7, 5])).unwrap(), vec![16]);
}

#[test]
fn an_empty_batch_gives_an_empty_output() {
    let mut conv = Conv2d::new(Conv2dConfig::new(1, 2, 3), &mut StrataRng::seed_from_u64(0)).unwrap();
    let y = conv.forward(&random(&[0, 1, 5, 5], 0), Mode::Train).unwrap();
    assert_eq!(y.shape(), &[0, 2, 3, 3]);
    let dx = conv.backward(&random(&[0, 2, 3, 3], 0)).unwrap();
    assert_eq!(dx.shape(), &[0, 1, 5, 5]);
}
