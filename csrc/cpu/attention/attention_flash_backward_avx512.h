#pragma once
// The float backward on AVX-512 (v3, bench/NOTES.md "Attention"), FlashAttention-2's order on the
// forward's micro-kernels: one task per (batch, kv head[, split]) walks key blocks of KB keys; for
// each, every query chunk of QC rows that can see it (every query head of the GQA group), per
// group of MR = 6 rows:
//   S  = Q K^T and dP = dO V^T   score_sliver on K and V packed in 64-key slivers by the task
//                                (its key blocks, into the thread's buffers: L2, not memory)
//   P  = 2^(S c - lse log2 e), dS = P (dP - delta)     in the two products' stores (with a
//                                user mask: a vector pass of its own, in L1)
//   dQ += dS K                   pv_tile, K rows in place, into a per-head dQ buffer
// then per chunk, for each tile of 6 keys:
//   dV += P^T dO, dK += dS^T Q   pv_tile reading P / dS transposed (k = the chunk's rows)
// dK, dV of the key block stay in a per-thread tile buffer, dQ of the task's heads in another
// (or, when a pair's key blocks are split, in per-split sums added at the end), the row terms
// delta = rowsum(out grad_out) too; scale is applied when dK and dQ are written. Each gradient
// element is summed by one task in a fixed order: deterministic.
#include "cpu/attention/attention_flash_avx512.h"

namespace fastdl::cpu::FASTDL_ISA::flash {

constexpr int64_t KB = 192;  // keys per block: 3 slivers, 32 tiles of 6 keys for dK and dV
constexpr int64_t QC = 96;   // query rows per chunk: the k of the dK, dV products

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// delta[row] = sum_c out[row, c] grad_out[row, c], rows of Dv floats (ldo, ldg apart).
inline void row_dots_avx512(int64_t rows, int64_t Dv, const float* out, int64_t ldo,
                            const float* grad_out, int64_t ldg, float* delta) {
  for (int64_t row = 0; row < rows; ++row) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < Dv; c += 16) {
      const __mmask16 lanes = first_lanes(Dv - c);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, out + row * ldo + c),
                            _mm512_maskz_loadu_ps(lanes, grad_out + row * ldg + c), acc);
    }
    delta[row] = _mm512_reduce_add_ps(acc);
  }
}

// grad_q's rows of heads [h0, h0 + heads) of batch b = scale x the sum of `terms` dQ buffers
// (per head Lp rows of ldq floats; buffer t at dq + t * term_stride), added in buffer order.
inline void write_grad_q(const float* dq, int64_t heads, int64_t L, int64_t ldq, int64_t D,
                         float scale, int64_t terms, int64_t term_stride, float* grad_q,
                         RowLayout layout, int64_t b, int64_t h0) {
  const int64_t Lp = round_up(L, MR);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < L; ++i) {
      const float* src = dq + (h * Lp + i) * ldq;
      float* g = grad_q + layout.at(b, h0 + h, i);
      for (int64_t d0 = 0; d0 < D; d0 += 16) {
        const __mmask16 lanes = first_lanes(D - d0);
        __m512 acc = _mm512_load_ps(src + d0);
        for (int64_t t = 1; t < terms; ++t)
          acc = _mm512_add_ps(acc, _mm512_load_ps(src + t * term_stride + d0));
        _mm512_mask_storeu_ps(g + d0, lanes, _mm512_mul_ps(_mm512_set1_ps(scale), acc));
      }
    }
}

// grad_mask, if any, must be zeroed by the caller (it is written only where keys take part).
inline void backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                     const float* out, const float* grad_out, const float* lse, float* grad_q,
                     float* grad_k, float* grad_v, float* grad_mask, int threads) {
  const int64_t B = s.batch, Hq = s.heads_q, Hk = s.heads_kv, L = s.len_q, S = s.len_kv;
  const int64_t D = s.dim_qk, Dv = s.dim_v, group = Hq / Hk;
  const float scale = float(s.scale);
  // S in log2 units exactly as the forward computed it (K packed times scale log2 e, rounded the
  // same way, the same micro-kernel, the mask times log2 e), so that P = 2^(S - lse log2 e) is
  // consistent with the forward's lse: with scores of ~100 a mismatch of one rounding in S
  // moved P by ~1e-5 relative, and dQ (where dP - delta cancels) by 1e-4.
  const float kscale = float(s.scale) * kLog2e;
  const int64_t Lp = round_up(L, MR), ldq = round_up(D, 16), ldv = round_up(Dv, 16);
  // Fewer (batch, kv head) pairs than threads: key blocks dealt round-robin to `splits` tasks
  // per pair, each with its own dQ sums, added in split order at the end.
  const int64_t pairs = B * Hk, key_blocks = (S + KB - 1) / KB;
  const int64_t splits = std::max<int64_t>(
      1, std::min<int64_t>(key_blocks, pairs >= threads ? 1 : (threads + pairs - 1) / pairs));
  const int64_t head_dq = Lp * ldq, tasks = pairs * splits;
  // Without a user mask P and dS are formed in the score products' stores; a mask (and its
  // gradient) goes between S and P, so then they are a pass of their own.
  const bool fused = s.mask_kind == MaskKind::none;
  const float* stats =
      s.stats_kind == RowStats::log2_units ? static_cast<const float*>(s.row_stats) : nullptr;
  float* split_dq = splits > 1 ? scratch(Scratch::split_dq, splits * B * Hq * head_dq) : nullptr;

  // Tasks are handed out in order (dynamic); a thread takes its next one as it starts the last
  // key block of the current one and prefetches what that one reads first (K, V, out, grad_out, Q).
  std::atomic<int64_t> next_task{0};
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    try {
      Buffer pb = make_buffer(QC * KB), dsb = make_buffer(QC * KB);
      Buffer dkb = make_buffer(KB * ldq), dvb = make_buffer(KB * ldv);
      __m512 dummy[MR];
      Prefetcher prefetch(96);  // one step per row group (~6000 cycles of FMAs)
      for (int64_t t = next_task.fetch_add(1), ahead; t < tasks;
           t = ahead >= 0 ? ahead : next_task.fetch_add(1)) {
        ahead = -1;
        const int64_t task = t / splits, split = t % splits, b = task / Hk, hk = task % Hk;
        // the task's key blocks (split, split + splits, ...) packed one after another
        const int64_t blocks = (key_blocks - 1 - split) / splits + 1;
        float* kpt = scratch(Scratch::task_k, blocks * KB * D);
        float* vpt = scratch(Scratch::task_v, blocks * KB * Dv);
        for (int64_t n = 0; n < blocks; ++n) {
          const int64_t j0 = (split + n * splits) * KB;
          pack_keys(k + s.k_rows.at(b, hk, 0), s.k_rows.row, S, D, j0, KB, kscale,
                    kpt + n * KB * D);
          pack_keys(v + s.v_rows.at(b, hk, 0), s.v_rows.row, S, Dv, j0, KB, 1.0f,
                    vpt + n * KB * Dv);
        }
        // the softmax backward's row terms of the group's heads: delta = rowsum(out grad_out)
        float* delta = scratch(Scratch::task_delta, group * L);
        for (int64_t h = 0; h < group; ++h)
          row_dots_avx512(L, Dv, out + s.out_rows.at(b, hk * group + h, 0), s.out_rows.row,
                          grad_out + s.grad_out_rows.at(b, hk * group + h, 0),
                          s.grad_out_rows.row, delta + h * L);
        // dQ of the group's heads: the thread's buffer (written out at the end of the task), or
        // this split's sums
        float* dqs = splits > 1 ? split_dq + (split * B * Hq + b * Hq + hk * group) * head_dq
                                : scratch(Scratch::task_dq, group * head_dq);
        std::fill(dqs, dqs + group * head_dq, 0.0f);
        for (int64_t j0 = split * KB; j0 < S; j0 += splits * KB) {
          const int64_t nk = std::min(KB, S - j0), nkp = round_up(nk, MR);
          std::fill(dkb.get(), dkb.get() + nkp * ldq, 0.0f);
          std::fill(dvb.get(), dvb.get() + nkp * ldv, 0.0f);
          const int64_t n = (j0 / KB - split) / splits;
          const float* kph = kpt + n * KB * D;
          const float* vph = vpt + n * KB * Dv;
          const float* kblk = k + s.k_rows.at(b, hk, j0);
          if (j0 + splits * KB >= S) {  // the last key block: take and prefetch the next task
            ahead = next_task.fetch_add(1);
            if (ahead < tasks) {
              const int64_t nb = ahead / splits / Hk, nhk = ahead / splits % Hk;
              prefetch_rows(prefetch, k, s.k_rows, nb, nhk, 0, S, D);
              prefetch_rows(prefetch, v, s.v_rows, nb, nhk, 0, S, Dv);
              for (int64_t h = nhk * group; h < (nhk + 1) * group; ++h) {
                prefetch_rows(prefetch, out, s.out_rows, nb, h, 0, L, Dv);
                prefetch_rows(prefetch, grad_out, s.grad_out_rows, nb, h, 0, L, Dv);
                prefetch_rows(prefetch, q, s.q_rows, nb, h, 0, L, D);
              }
            }
          }
          for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
            const int64_t bh = b * Hq + h;
            const float* qh = q + s.q_rows.at(b, h, 0);
            const float* doh = grad_out + s.grad_out_rows.at(b, h, 0);
            const int64_t ldqi = s.q_rows.row, lddo = s.grad_out_rows.row;
            const float *lseh = lse + bh * L, *dh = delta + (h - hk * group) * L;
            float* dqh = dqs + (h - hk * group) * head_dq;
            // Causal: rows i < j0 see no key of the block (chunks start on a group boundary).
            for (int64_t i0 = s.causal ? j0 / MR * MR : 0; i0 < L; i0 += QC) {
              const int64_t mq = std::min(QC, L - i0), rows = round_up(mq, MR);
              // a group of the chunk's rows r0.. on a tile of R rows (R >= its real rows)
              const auto group = [&]<int R>(int64_t r0) {
                int64_t valid[MR];
                for (int r = 0; r < MR; ++r)
                  valid[r] = s.causal ? std::clamp<int64_t>(i0 + r0 + r + 1 - j0, 0, nk) : nk;
                const int64_t kmax = valid[R - 1], ext = round_up(kmax, 16);  // columns written
                float* prow = pb.get() + r0 * KB;
                float* dsrow = dsb.get() + r0 * KB;
                const int64_t real = std::min<int64_t>(MR, L - (i0 + r0));
                // per row (set when kmax > 0): P = 2^((S - l2) - l2lo), delta
                float l2[MR], l2lo[MR], dd[MR];
                if (kmax > 0) {
                  const float *qr[MR], *dr[MR];
                  for (int r = 0; r < MR; ++r) {
                    const int64_t i = std::min(r0 + r, mq - 1);  // padding rows repeat the last
                    qr[r] = qh + (i0 + i) * ldqi, dr[r] = doh + (i0 + i) * lddo;
                    if (stats) {  // the forward's m and log2 l: exact where S and m are large
                      l2[r] = stats[2 * (bh * L + i0 + i)];
                      l2lo[r] = stats[2 * (bh * L + i0 + i) + 1];
                    } else {
                      l2[r] = float(double(lseh[i0 + i]) * 1.4426950408889634), l2lo[r] = 0.0f;
                    }
                    dd[r] = dh[i0 + i];
                  }
                  for (int64_t c0 = 0; c0 < kmax; c0 += KS) {
                    int64_t vs[MR], all[MR];
                    for (int r = 0; r < MR; ++r) vs[r] = valid[r] - c0, all[r] = KS;
                    const float *ks = kph + c0 / KS * D * KS, *vsl = vph + c0 / KS * Dv * KS;
                    if (fused) {
                      score_sliver<Epilogue::probabilities, R>(
                          D, qr, ks, prow + c0, KB, vs, kmax - c0, {.shift = l2, .shift_lo = l2lo});
                      score_sliver<Epilogue::score_grads, R>(Dv, dr, vsl, dsrow + c0, KB, all,
                                                             kmax - c0,
                                                             {.shift = dd, .probs = prow + c0});
                    } else {
                      score_sliver<Epilogue::scores, R>(D, qr, ks, prow + c0, KB, vs, kmax - c0,
                                                        {.max = dummy});
                      score_sliver<Epilogue::scores, R>(Dv, dr, vsl, dsrow + c0, KB, all,
                                                        kmax - c0, {.max = dummy});
                    }
                  }
                  if (!fused)
                    apply_user_mask<float>(s, b, h, i0 + r0, j0, real, kmax, false, prow, KB,
                                           kLog2e);
                }
                for (int r = 0; r < MR; ++r) {
                  const int64_t i = i0 + r0 + r;
                  float *pr = prow + r * KB, *dsr = dsrow + r * KB;
                  const int64_t done = r < real ? ext : 0;  // padding rows: P = dS = 0
                  if (done > 0 && !fused) {  // a real row: its l2, dd were set above
                    const __m512 shift = _mm512_set1_ps(l2[r]), row_delta = _mm512_set1_ps(dd[r]);
                    const __m512 shift_lo = _mm512_set1_ps(l2lo[r]);
                    for (int64_t c = 0; c < ext; c += 16) {
                      const __m512 p = exp2_ps(
                          _mm512_sub_ps(_mm512_sub_ps(_mm512_load_ps(pr + c), shift), shift_lo));
                      _mm512_store_ps(pr + c, p);
                      const __m512 dp = _mm512_load_ps(dsr + c);
                      _mm512_store_ps(dsr + c, _mm512_mul_ps(p, _mm512_sub_ps(dp, row_delta)));
                    }
                    if (grad_mask)
                      std::copy(dsr, dsr + kmax, grad_mask + (bh * L + i) * S + j0);
                  }
                  // columns the transposed products read but no sliver wrote
                  std::fill(pr + std::min(done, nkp), pr + nkp, 0.0f);
                  std::fill(dsr + std::min(done, nkp), dsr + nkp, 0.0f);
                }
                if (kmax > 0)
                  pv_group<false, false, R>(kmax, dsrow, KB, kblk, s.k_rows.row, D,
                                            dqh + (i0 + r0) * ldq, ldq, nullptr);
                prefetch.step();
              };
              for (int64_t r0 = 0; r0 < rows; r0 += MR)
                switch (tile_rows(std::min<int64_t>(MR, mq - r0))) {
                  case MR: group.template operator()<MR>(r0); break;
                  case 4: group.template operator()<4>(r0); break;
                  default: group.template operator()<2>(r0); break;
                }
              // dV and dK of the block's keys rk0.. on tiles of R keys
              const auto key_tile = [&]<int R>(int64_t rk0) {
                // causal: rows i < j0 + rk0 see none of these keys
                const int64_t k0 = s.causal ? std::clamp<int64_t>(j0 + rk0 - i0, 0, mq) : 0;
                if (k0 >= mq) return;
                pv_group<true, false, R>(mq - k0, pb.get() + k0 * KB + rk0, KB,
                                         doh + (i0 + k0) * lddo, lddo, Dv, dvb.get() + rk0 * ldv,
                                         ldv, nullptr);
                pv_group<true, false, R>(mq - k0, dsb.get() + k0 * KB + rk0, KB,
                                         qh + (i0 + k0) * ldqi, ldqi, D, dkb.get() + rk0 * ldq,
                                         ldq, nullptr);
              };
              for (int64_t rk0 = 0; rk0 < nk; rk0 += MR)
                switch (tile_rows(std::min<int64_t>(MR, nk - rk0))) {
                  case MR: key_tile.template operator()<MR>(rk0); break;
                  case 4: key_tile.template operator()<4>(rk0); break;
                  default: key_tile.template operator()<2>(rk0); break;
                }
            }
          }
          for (int64_t r = 0; r < nk; ++r) {
            float* gk = grad_k + s.grad_k_rows.at(b, hk, j0 + r);
            float* gv = grad_v + s.grad_v_rows.at(b, hk, j0 + r);
            for (int64_t d = 0; d < D; ++d) gk[d] = scale * dkb[r * ldq + d];
            for (int64_t d = 0; d < Dv; ++d) gv[d] = dvb[r * ldv + d];
          }
        }
        if (splits == 1)
          write_grad_q(dqs, group, L, ldq, D, scale, 1, 0, grad_q, s.grad_q_rows, b, hk * group);
      }
    } catch (...) {
#pragma omp critical(fastdl_flash_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  if (splits > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t bh = 0; bh < B * Hq; ++bh)
      write_grad_q(split_dq + bh * head_dq, 1, L, ldq, D, scale, splits, B * Hq * head_dq, grad_q,
                   s.grad_q_rows, bh / Hq, bh % Hq);
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA::flash
