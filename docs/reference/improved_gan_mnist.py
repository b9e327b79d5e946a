"""A line-by-line TF2 transcription of Salimans et al. 2016's semi-supervised
MNIST script, openai/improved-gan's mnist_svhn_cifar10/
train_mnist_feature_matching.py (Theano/Lasagne), with no gantape code in it:
the reference that gantape's `--preset=salimans` is checked against
(docs/semi_supervised.md). Not part of the package.

    python docs/reference/improved_gan_mnist.py SEED ITERATIONS EVAL_EVERY \
        [MNIST_NPZ [COUNT [INDICES]]]

Prints the test error of the live and of the averaged discriminator every
EVAL_EVERY iterations (one iteration: a discriminator and a generator update
on batches of 100). MNIST_NPZ is a Keras-layout mnist.npz (default: the
one Keras downloads). COUNT is their --count, the labelled examples per class
(default 10: 100 labels; 2 gives 20 labels). INDICES, comma-separated
training-set indices, replaces their draw of labelled examples (e.g. with
gantape's `data.balanced_subset` for a --label_seed).
"""
import sys
import time

import numpy as np
import tensorflow as tf

seed, iterations, eval_every = (int(a) for a in sys.argv[1:4])
MNIST_NPZ = (sys.argv[4] if len(sys.argv) > 4
             else tf.keras.utils.get_file(
                 "mnist.npz", "https://storage.googleapis.com/tensorflow/"
                 "tf-keras-datasets/mnist.npz"))
rng = np.random.RandomState(seed)
tf.random.set_seed(seed)
data_rng = np.random.RandomState(seed)
B = 100
count = int(sys.argv[5]) if len(sys.argv) > 5 else 10

with np.load(MNIST_NPZ) as f:
  trainx = f["x_train"].reshape(-1, 784).astype(np.float32) / 255.
  trainy = f["y_train"].astype(np.int32)
  testx = f["x_test"].reshape(-1, 784).astype(np.float32) / 255.
  testy = f["y_test"].astype(np.int32)
trainx_unl = trainx.copy()
trainx_unl2 = trainx.copy()
inds = data_rng.permutation(trainx.shape[0])
tx, ty = trainx[inds], trainy[inds]
txs = np.concatenate([tx[ty == j][:count] for j in range(10)])
tys = np.concatenate([ty[ty == j][:count] for j in range(10)])
if len(sys.argv) > 6:
  chosen = [int(i) for i in sys.argv[6].split(",")]
  txs, tys = trainx[chosen], trainy[chosen]


def var(x, trainable=True):
  return tf.Variable(np.asarray(x, np.float32), trainable=trainable)


# ---- discriminator: nn.DenseLayer (weight norm, theta N(0, 0.1)) --------
class Dense:
  def __init__(self, n_in, n_out, relu=True, train_scale=False):
    self.theta = var(rng.normal(0, 0.1, (n_in, n_out)))
    self.scale = var(np.ones(n_out), trainable=train_scale)
    self.b = var(np.zeros(n_out))
    self.relu = relu
    self.params = [self.theta, self.b] + ([self.scale] if train_scale else [])

  def W(self, theta=None):
    theta = self.theta if theta is None else theta
    return theta * (self.scale / tf.sqrt(tf.reduce_sum(tf.square(theta), 0)))

  def __call__(self, x, init=False, params=None):
    theta, b = (self.theta, self.b) if params is None else params
    a = x @ self.W(theta)
    if init:
      m = tf.reduce_mean(a, 0)
      a = a - m
      s = tf.sqrt(tf.reduce_mean(tf.square(a), 0))
      a = a / s
      self.scale.assign(self.scale / s)
      self.b.assign(-m / s)
    else:
      a = a + b
    return tf.nn.relu(a) if self.relu else a


units = [784, 1000, 500, 250, 250, 250]
d_layers = [Dense(a, b) for a, b in zip(units, units[1:])]
d_layers.append(Dense(250, 10, relu=False, train_scale=True))
sigmas = [0.3, 0.5, 0.5, 0.5, 0.5, 0.5]
disc_params = [p for l in d_layers for p in l.params]


def discriminator(x, deterministic=False, init=False, features=False,
                  params=None):
  h = x
  for i, layer in enumerate(d_layers):
    if not deterministic:
      h = h + tf.random.normal(tf.shape(h), stddev=sigmas[i])
    lp = None if params is None else params[i]
    h = layer(h, init=init, params=lp)
    if features and i == len(d_layers) - 2:
      return h
  return h


# ---- generator: Dense+BN(no scale)+softplus x2, l2normalize(Dense) -----
def glorot(n_in, n_out):
  lim = np.sqrt(6. / (n_in + n_out))
  return rng.uniform(-lim, lim, (n_in, n_out))

g_w1 = var(glorot(100, 500)); g_b1 = var(np.zeros(500))
g_w2 = var(glorot(500, 500)); g_b2 = var(np.zeros(500))
g_w3 = var(glorot(500, 784)); g_s3 = var(np.ones(784)); g_b3 = var(np.zeros(784))
gen_params = [g_w1, g_b1, g_w2, g_b2, g_w3, g_s3, g_b3]


def bn(a, b):
  m = tf.reduce_mean(a, 0)
  c = a - m
  v = tf.reduce_mean(tf.square(c), 0)
  return c / tf.sqrt(1e-6 + v) + b


def generator():
  z = tf.random.uniform((B, 100))
  h = tf.nn.softplus(bn(z @ g_w1, g_b1))
  h = tf.nn.softplus(bn(h @ g_w2, g_b2))
  w = g_w3 * (g_s3 / tf.sqrt(1e-6 + tf.reduce_sum(tf.square(g_w3), 0)))
  return tf.sigmoid(h @ w + g_b3)


# ---- nn.adam_updates ---------------------------------------------------
class Adam:
  def __init__(self, params, mom1=0.5, mom2=0.999):
    self.params, self.mom1, self.mom2 = params, mom1, mom2
    self.t = tf.Variable(1.0)
    self.v = [tf.Variable(tf.zeros_like(p)) for p in params]
    self.mg = [tf.Variable(tf.zeros_like(p)) for p in params]

  def apply(self, grads, lr):
    for p, g, v, mg in zip(self.params, grads, self.v, self.mg):
      v_t = self.mom1 * v + (1 - self.mom1) * g
      mg_t = self.mom2 * mg + (1 - self.mom2) * tf.square(g)
      v_hat = v_t / (1 - self.mom1 ** self.t)
      mg_hat = mg_t / (1 - self.mom2 ** self.t)
      p.assign_sub(lr * v_hat / tf.sqrt(mg_hat + 1e-8))
      v.assign(v_t); mg.assign(mg_t)
    self.t.assign_add(1.0)


d_adam, g_adam = Adam(disc_params), Adam(gen_params)
disc_avg = [tf.Variable(tf.zeros_like(p)) for p in disc_params]


def lse(x):
  return tf.reduce_logsumexp(x, axis=1)


@tf.function
def train_disc(x_lab, labels, x_unl, lr):
  gen_dat = generator()
  with tf.GradientTape() as tape:
    out_lab = discriminator(x_lab)
    out_unl = discriminator(x_unl)
    out_fake = discriminator(gen_dat)
    l_lab = tf.gather(out_lab, labels, batch_dims=1)
    loss_lab = -tf.reduce_mean(l_lab) + tf.reduce_mean(lse(out_lab))
    l_unl = lse(out_unl)
    loss_unl = (-0.5 * tf.reduce_mean(l_unl)
                + 0.5 * tf.reduce_mean(tf.nn.softplus(l_unl))
                + 0.5 * tf.reduce_mean(tf.nn.softplus(lse(out_fake))))
    loss = loss_lab + loss_unl
  grads = tape.gradient(loss, disc_params)
  d_adam.apply(grads, lr)
  for a, p in zip(disc_avg, disc_params):
    a.assign(a + 0.0001 * (p - a))
  err = tf.reduce_mean(tf.cast(tf.not_equal(
      tf.argmax(out_lab, 1, output_type=tf.int32), labels), tf.float32))
  return loss_lab, loss_unl, err


@tf.function
def train_gen(x_unl, lr):
  with tf.GradientTape() as tape:
    gen_dat = generator()
    mom_gen = tf.reduce_mean(discriminator(gen_dat, features=True), 0)
    mom_real = tf.reduce_mean(discriminator(x_unl, features=True), 0)
    loss = tf.reduce_mean(tf.square(mom_gen - mom_real))
  grads = tape.gradient(loss, gen_params)
  g_adam.apply(grads, lr)
  return loss


def split(params):
  out, i = [], 0
  for l in d_layers:
    out.append((params[i], params[i + 1]))
    i += len(l.params)
  return out


@tf.function
def eval_logits(x, averaged):
  if averaged:
    # givens: every trainable param replaced by its average (the output
    # layer's trained scale too).
    saved = [tf.identity(s) for s in [d_layers[-1].scale]]
    d_layers[-1].scale.assign(disc_avg[-1])
    out = discriminator(x, deterministic=True, params=split(disc_avg))
    d_layers[-1].scale.assign(saved[0])
    return out
  return discriminator(x, deterministic=True)


def test_error(averaged):
  wrong = 0
  for t in range(0, len(testx), 1000):
    out = eval_logits(testx[t:t + 1000], averaged)
    wrong += int(np.sum(np.argmax(out.numpy(), 1) != testy[t:t + 1000]))
  return wrong / len(testx)


discriminator(tf.constant(trainx[:500]), init=True)  # data-dependent init
lr = 0.003
it = 0
start = time.time()
while it < iterations:
  perms = [rng.permutation(len(txs)) for _ in range(len(trainx_unl) // len(txs))]
  trainx_l = np.concatenate([txs[p] for p in perms])
  trainy_l = np.concatenate([tys[p] for p in perms])
  trainx_unl = trainx_unl[rng.permutation(len(trainx_unl))]
  trainx_unl2 = trainx_unl2[rng.permutation(len(trainx_unl2))]
  for t in range(len(trainx_unl) // B):
    s = slice(t * B, (t + 1) * B)
    ll, lu, te = train_disc(trainx_l[s], trainy_l[s], trainx_unl[s], lr)
    e = train_gen(trainx_unl2[s], lr)
    it += 1
    if it % eval_every == 0:
      print(f"it {it} {time.time() - start:.0f}s loss_lab={float(ll):.4f} "
            f"loss_unl={float(lu):.4f} loss_gen={float(e):.4f} "
            f"test_err={test_error(False):.4f} test_err_avg={test_error(True):.4f}",
            flush=True)
    if it >= iterations:
      break
