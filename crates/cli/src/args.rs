use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Strata: train and run neural networks on the CPU.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a classifier (default: an MLP on the embedded MNIST 5k sample) and report its test accuracy.
    Train(TrainArgs),
    /// Evaluate a saved model on a labelled dataset.
    Evaluate(EvaluateArgs),
    /// Print the predicted class of every row of a dataset.
    Predict(PredictArgs),
    /// Print a model's layers, output shapes and parameter counts.
    Summary(SummaryArgs),
}

/// Where the data comes from and how to read it.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// CSV, gzipped CSV, or IDX images file (default: the embedded MNIST 5k sample).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// IDX labels file, for IDX image data.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Column of the class label: `last`, `first`, or a 0-based index.
    #[arg(long, default_value = "last", value_name = "COLUMN")]
    pub label_column: String,
    /// The CSV file starts with a header row.
    #[arg(long)]
    pub header: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Layer widths of an MLP, input first (default: the data's width, 256, 128, the number of classes).
    #[arg(long, value_delimiter = ',', value_name = "WIDTHS")]
    pub layers: Option<Vec<usize>>,
    /// A model spec (JSON) describing any architecture, instead of --layers.
    #[arg(long, value_name = "SPEC.json", conflicts_with = "layers")]
    pub model: Option<PathBuf>,
    /// Hidden-layer activation: relu, leaky_relu, gelu, tanh, sigmoid.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Dropout rate after each hidden layer (0 disables it).
    #[arg(long, default_value_t = 0.3)]
    pub dropout: f32,
    /// Passes over the training data.
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Samples per mini-batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Base learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Optimizer: adam, adamw, sgd, rmsprop.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning-rate schedule: cosine (with one epoch of linear warm-up), constant.
    #[arg(long, default_value = "cosine")]
    pub schedule: String,
    /// Seed of initialisation, splitting, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of the training part held out for validation (early stopping watches its loss).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f32,
    /// Fraction held out for testing (default: 0.2 for a --data file; the embedded sample uses its standard split, the last 1000 rows).
    #[arg(long)]
    pub test_fraction: Option<f32>,
    /// Stop after this many epochs without a better validation loss, restoring the best weights (0 disables).
    #[arg(long, default_value_t = 0)]
    pub patience: usize,
    /// Feature scaling fitted on the training part: auto, standard, minmax, none (auto: /255 for the embedded pixels, standard otherwise).
    #[arg(long, default_value = "auto")]
    pub normalize: String,
    /// Save the trained model (architecture, weights, preprocessing) here.
    #[arg(long, value_name = "MODEL")]
    pub out: Option<PathBuf>,
    /// Print only the final result.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A model saved by `strata train --out`.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model saved by `strata train --out`.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// A saved model, or a model spec (JSON).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
}
