import numpy as np
# minimax (relative error) fit of e^t ~ 1 + t*(c1 + c2 t + ... + c5 t^4) on [-ln2/2, ln2/2], Lawson's IRLS
a = np.log(2)/2
t = np.cos(np.linspace(0, np.pi, 4001)) * a
t = t[np.abs(t) > 1e-9]
y = (np.exp(t) - 1) / t          # target for p(t)
# relative error of e^t: (1 + t p - e^t)/e^t = t (p - y)/e^t
scale = t / np.exp(t)
A = np.stack([t**k for k in range(5)], 1) * scale[:, None]
b = y * scale
w = np.ones_like(t) / len(t)
for it in range(3000):
    sw = np.sqrt(w)
    c, *_ = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)
    r = np.abs(A @ c - b)
    w = w * r; w /= w.sum()
print(repr(list(c)), r.max())
c32 = np.float32(c)
print([float(x) for x in c32], [hex(int(x.view(np.uint32))) for x in c32])
