//! Named parameters: how a model hands its weights and gradients to an
//! optimizer, a checkpoint writer or a diagnostic, without either side knowing
//! the other's types.

use crate::tensor::Tensor;

/// One named tensor of a model, as seen by a [`ParamVisitor`] callback.
#[derive(Debug)]
pub struct ParamRef<'a> {
    /// Full dotted path, unique in the model, e.g. `dense_1.weight`.
    pub name: &'a str,
    /// The value.
    pub value: &'a mut Tensor,
    /// The accumulated gradient (same shape), or `None` for a non-trainable
    /// buffer such as a batch-norm running mean.
    pub grad: Option<&'a mut Tensor>,
    /// Whether every value is at least 0 (a running variance, reported with
    /// [`ParamVisitor::variance`]): a file holding a negative one is refused.
    pub non_negative: bool,
}

/// Walks a model's parameters, building dotted names on a reused buffer (no
/// allocation once the buffer is warm).
///
/// A layer reports its tensors with [`ParamVisitor::param`] (trainable) and
/// [`ParamVisitor::buffer`] (state that is saved but not trained), and its
/// integer state (dropout's call count, batch norm's batch count) with
/// [`ParamVisitor::counter`], exactly; a composite wraps each child in
/// [`ParamVisitor::scope`]. Counters reach only a visitor made with
/// [`ParamVisitor::with_counters`] (training-state snapshots); optimizers and
/// model files see tensors alone.
///
/// ```
/// use strata_tensor::{ParamVisitor, Tensor};
/// let (mut w, mut gw) = (Tensor::zeros(&[2, 2]), Tensor::zeros(&[2, 2]));
/// let mut names = Vec::new();
/// let mut path = String::new();
/// let mut record = |p: strata_tensor::ParamRef<'_>| names.push(p.name.to_string());
/// let mut v = ParamVisitor::new(&mut path, &mut record);
/// v.scope("dense_1", |v| v.param("weight", &mut w, &mut gw));
/// assert_eq!(names, ["dense_1.weight"]);
/// ```
pub struct ParamVisitor<'a> {
    path: &'a mut String,
    f: &'a mut dyn FnMut(ParamRef<'_>),
    counters: Option<&'a mut CounterFn<'a>>,
}

/// What a visitor calls for each counter: its dotted name and its value.
type CounterFn<'a> = dyn FnMut(&str, &mut u64) + 'a;

impl std::fmt::Debug for ParamVisitor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamVisitor").field("path", &self.path).finish_non_exhaustive()
    }
}

impl<'a> ParamVisitor<'a> {
    /// A visitor calling `f` for every tensor; `path` is scratch space
    /// (pass the same `String` every step to avoid allocating).
    pub fn new(path: &'a mut String, f: &'a mut dyn FnMut(ParamRef<'_>)) -> Self {
        path.clear();
        ParamVisitor { path, f, counters: None }
    }

    /// A visitor that also sees every counter: `counters(name, value)` may
    /// read or overwrite it.
    ///
    /// ```
    /// use strata_tensor::ParamVisitor;
    /// let mut calls = 7u64;
    /// let mut seen = Vec::new();
    /// let mut path = String::new();
    /// let (mut tensors, mut counters) = (|_: strata_tensor::ParamRef<'_>| {}, |n: &str, v: &mut u64| seen.push((n.to_string(), *v)));
    /// let mut v = ParamVisitor::with_counters(&mut path, &mut tensors, &mut counters);
    /// v.scope("dropout_1", |v| v.counter("calls", &mut calls));
    /// assert_eq!(seen, [("dropout_1.calls".to_string(), 7)]);
    /// ```
    pub fn with_counters(
        path: &'a mut String,
        f: &'a mut dyn FnMut(ParamRef<'_>),
        counters: &'a mut CounterFn<'a>,
    ) -> Self {
        path.clear();
        ParamVisitor { path, f, counters: Some(counters) }
    }

    /// Report an integer piece of state (a call or batch count) that a
    /// training snapshot must restore exactly. Ignored by visitors made with
    /// [`ParamVisitor::new`].
    pub fn counter(&mut self, name: &str, value: &mut u64) {
        if let Some(g) = self.counters.as_mut() {
            let len = self.path.len();
            self.path.push_str(name);
            g(self.path, value);
            self.path.truncate(len);
        }
    }

    /// Report a trainable parameter and its gradient.
    pub fn param(&mut self, name: &str, value: &mut Tensor, grad: &mut Tensor) {
        let len = self.path.len();
        self.path.push_str(name);
        (self.f)(ParamRef { name: self.path, value, grad: Some(grad), non_negative: false });
        self.path.truncate(len);
    }

    /// Report a non-trainable buffer (saved with the model, never updated by
    /// an optimizer).
    pub fn buffer(&mut self, name: &str, value: &mut Tensor) {
        self.buffer_of(name, value, false);
    }

    /// Report a buffer of running variances: as [`ParamVisitor::buffer`],
    /// and every value is at least 0 (a model file holding a negative one is
    /// refused when read, where it would make `sqrt(var + eps)` NaN).
    pub fn variance(&mut self, name: &str, value: &mut Tensor) {
        self.buffer_of(name, value, true);
    }

    fn buffer_of(&mut self, name: &str, value: &mut Tensor, non_negative: bool) {
        let len = self.path.len();
        self.path.push_str(name);
        (self.f)(ParamRef { name: self.path, value, grad: None, non_negative });
        self.path.truncate(len);
    }

    /// Visit a child under `name.`.
    pub fn scope(&mut self, name: &str, body: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        self.path.push_str(name);
        self.path.push('.');
        body(self);
        self.path.truncate(len);
    }
}
