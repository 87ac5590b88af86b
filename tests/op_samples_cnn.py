"""Op samples for the CNN layer ops: pad (every mode, negative pads), pad_backward,
group_norm, instance_norm (see op_samples.py for the format)."""
import numpy as np

from op_samples import G, U, avoid, sample, vjp_at

# ---- pad -----------------------------------------------------------------------------------
sample("pad", "constant_value_and_crop",
       lambda L, x: L.F.pad(x, (1, -1, 2, 0), value=0.5), lambda r: [U(r, (2, 3, 4))])
sample("pad", "constant_3_dims", lambda L, x: L.F.pad(x, (0, 1, 1, 0, 2, 1)),
       lambda r: [U(r, (2, 2, 3))])
sample("pad", "reflect_2d", lambda L, x: L.F.pad(x, (2, 1, 1, 2), mode="reflect"),
       lambda r: [U(r, (1, 2, 3, 4))])
sample("pad", "reflect_1d_unbatched_crop", lambda L, x: L.F.pad(x, (-1, 2), mode="reflect"),
       lambda r: [U(r, (2, 5))])
sample("pad", "replicate_3d", lambda L, x: L.F.pad(x, (1, 0, 2, 1, 0, 2), mode="replicate"),
       lambda r: [U(r, (1, 2, 2, 3, 2))])
sample("pad", "replicate_negative", lambda L, x: L.F.pad(x, (-1, 2, 1, -1), mode="replicate"),
       lambda r: [U(r, (2, 4, 3))])
sample("pad", "circular_2d", lambda L, x: L.F.pad(x, (2, 1, 3, 0), mode="circular"),
       lambda r: [U(r, (1, 2, 3, 3))])
sample("pad", "circular_crop_then_wrap", lambda L, x: L.F.pad(x, (-1, 2), mode="circular"),
       lambda r: [U(r, (2, 2, 4))])
# pad_backward runs in pad's backward: its first and second derivatives via the gradient
sample("pad_backward", "grad_of_reflect",
       lambda L, x, g: vjp_at(L, lambda x: L.F.pad(x, (2, 1, 1, 2), mode="reflect"), [x], g)[0],
       lambda r: [U(r, (1, 2, 3, 4)), G(r, (1, 2, 6, 7))], nograd=(0,))
sample("pad_backward", "grad_of_circular_crop",
       lambda L, x, g: vjp_at(L, lambda x: L.F.pad(x, (-1, 2), mode="circular"), [x], g)[0],
       lambda r: [U(r, (2, 2, 4)), G(r, (2, 2, 5))], nograd=(0,))
sample("pad_backward", "grad_of_constant_crop",
       lambda L, x, g: vjp_at(L, lambda x: L.F.pad(x, (1, -1, 2, 0)), [x], g)[0],
       lambda r: [U(r, (2, 3, 4)), G(r, (2, 5, 4))], nograd=(0,))
sample("pad_backward", "grad_of_replicate_3d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.pad(x, (1, 0, 2, 1, 0, 2), mode="replicate"),
                              [x], g)[0],
       lambda r: [U(r, (1, 2, 2, 3, 2)), G(r, (1, 2, 4, 6, 3))], nograd=(0,))

# ---- group_norm / instance_norm ------------------------------------------------------------
RM3, RV3 = np.array([0.1, -0.2, 0.3]), np.array([0.8, 1.3, 0.6])

sample("group_norm", "affine_2_groups",
       lambda L, x, w, b: L.F.group_norm(x, 2, w, b),
       lambda r: [U(r, (2, 4, 3)), U(r, (4,), 0.5, 1.5), U(r, (4,))])
sample("group_norm", "no_affine_4d", lambda L, x: L.F.group_norm(x, 3, eps=1e-3),
       lambda r: [U(r, (2, 3, 2, 2))])
sample("group_norm", "weight_only_one_group",
       lambda L, x, w: L.F.group_norm(x, 1, w), lambda r: [U(r, (2, 2, 3)), U(r, (2,), 0.5, 1.5)])
sample("instance_norm", "affine_input_stats",
       lambda L, x, w, b: L.F.instance_norm(x, weight=w, bias=b),
       lambda r: [U(r, (2, 3, 4)), U(r, (3,), 0.5, 1.5), U(r, (3,))])
sample("instance_norm", "running_stats_4d",
       lambda L, x, w: L.F.instance_norm(x, L.const(RM3.copy()), L.const(RV3.copy()), w,
                                         use_input_stats=True, momentum=0.2),
       lambda r: [U(r, (2, 3, 2, 2)), U(r, (3,), 0.5, 1.5)])
sample("instance_norm", "eval_running_stats",
       lambda L, x, w, b: L.F.instance_norm(x, L.const(RM3), L.const(RV3), w, b,
                                            use_input_stats=False),
       lambda r: [U(r, (2, 3, 3)), U(r, (3,), 0.5, 1.5), U(r, (3,))])
sample("normalize_backward", "grad_of_group_norm",
       lambda L, x, w, g: L.grad(L.F.group_norm(x, 2, w), [x, w], g),
       lambda r: [U(r, (2, 4, 3)), U(r, (4,), 0.5, 1.5), G(r, (2, 4, 3))])
sample("normalize_weight_grad", "grad_of_instance_norm",
       lambda L, x, w, g: L.grad(L.F.instance_norm(x, weight=w), [x, w], g),
       lambda r: [U(r, (2, 2, 4)), U(r, (2,), 0.5, 1.5), G(r, (2, 2, 4))])

# ---- relu6 ---------------------------------------------------------------------------------
sample("hardtanh", "relu6_away_from_kinks", lambda L, x: L.F.relu6(x),
       lambda r: [avoid(r, (3, 5), (0.0, 6.0), -2.0, 8.0)], check="grad")

# ---- batch_norm's bias gradient (a registered op so its own derivative is one) -------------
sample("normalize_bias_grad", "grad_of_batch_norm_4d_at_fixed_input",  # linear in g alone
       lambda L, x, w, b, g: vjp_at(L, lambda x, b: L.F.batch_norm(x, None, None, w, b,
                                                                   training=True), [x, b], g),
       lambda r: [U(r, (2, 3, 2, 2)), U(r, (3,), 0.5, 1.5), U(r, (3,)), G(r, (2, 3, 2, 2))],
       nograd=(0, 1, 2))
sample("normalize_bias_grad", "grad_of_batch_norm_wrt_bias_only",  # linear in g alone
       lambda L, x, w, b, g: vjp_at(L, lambda b: L.F.batch_norm(x, None, None, w, b,
                                                                training=True), [b], g),
       lambda r: [U(r, (4, 3)), U(r, (3,), 0.5, 1.5), U(r, (3,)), G(r, (4, 3))],
       nograd=(0, 1, 2))

# ---- hardtanh (relu6's rule with any bounds) -----------------------------------------------
sample("hardtanh", "away_from_kinks", lambda L, x: L.F.hardtanh(x, -0.5, 1.0),
       lambda r: [avoid(r, (3, 4), (-0.5, 1.0), -2.0, 2.0)], check="grad")
