/* encoder.h - prompt encoders: S trainable seed vectors -> S virtual-token
 * embeddings h (S, d), d = the model's embedding width (DESIGN.md section 2).
 *
 *   embedding  h = E                                  E (S, d)
 *   mlp        h = L3(relu(L2(relu(L1(E)))))          L1 (H,d) L2 (H,H) L3 (d,H)  (PEFT default)
 *   lstm       h = L2(relu(L1(biLSTM2(E))))           2-layer bidirectional LSTM, hidden d/2
 *                                                     per direction, gate order i,f,g,o;
 *                                                     L1, L2 (d, d)
 *   prefix-mlp h = T2(tanh(T0(E)))                    E (S, d_in) T0 (H, d_in) T2 (d, H):
 *                                                     PEFT's PrefixEncoder with projection
 *                                                     (deep prompts: d = L * 2 * KVC)
 *
 * All parameters live in one flat array (params) with a same-shaped gradient
 * array (grads), so optimizers and checkpoints see one vector. Tensor names
 * follow PEFT's PromptEncoder so PyTorch fixtures map one to one:
 *   embedding.weight
 *   mlp_head.{0,2,4}.{weight,bias}                        (mlp)
 *   transform.{0,2}.{weight,bias}                         (prefix-mlp)
 *   lstm_head.{weight_ih,weight_hh,bias_ih,bias_hh}_l{0,1}[_reverse],
 *   mlp_head.{0,2}.{weight,bias}                          (lstm)
 * The encoder runs once per training step; its output is shared by the batch.
 */
#ifndef PT_PROMPT_ENCODER_H
#define PT_PROMPT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "ptune.h"

typedef enum pt_encoder_kind {
    PT_ENCODER_EMBEDDING,
    PT_ENCODER_MLP,
    PT_ENCODER_LSTM,
    PT_ENCODER_PREFIX_MLP,
} pt_encoder_kind;

const char *pt_encoder_kind_name(pt_encoder_kind k);
/* "lstm" | "mlp" | "embedding" -> kind; returns 0 if unknown. */
int pt_encoder_kind_parse(const char *s, pt_encoder_kind *k);

#define PT_ENC_MAX_TENSORS 24

typedef struct pt_enc_tensor {
    char name[48];
    int ndim;
    int64_t shape[2];
    size_t offset; /* into params / grads */
    size_t numel;
} pt_enc_tensor;

typedef struct pt_encoder {
    pt_encoder_kind kind;
    int S;         /* virtual tokens */
    int d;         /* output width: the model's (or a deep prompt's row) */
    int d_in;      /* seed width: d, or the model's width for prefix-mlp */
    int H;         /* MLP hidden width (mlp, prefix-mlp) */
    float *params; /* (n_params) */
    float *grads;  /* (n_params), accumulated by backward */
    size_t n_params;
    pt_enc_tensor tensors[PT_ENC_MAX_TENSORS];
    int n_tensors;
    float *work; /* saved activations for backward (allocated once) */
    size_t n_work;
} pt_encoder;

/* Allocate and initialise with PyTorch's default initialisation drawn from rng:
 * embedding N(0,1); Linear weight and bias U(+-1/sqrt(fan_in)); LSTM weights
 * and both biases U(+-1/sqrt(hidden)). H is ignored except for mlp (H <= 0: H = d).
 * For lstm, d must be even. */
pt_status pt_encoder_init(pt_encoder *e, pt_encoder_kind kind, int S, int d, int H, pt_rng *rng);
/* prefix-mlp: S seeds of width d_in through a tanh MLP of width H (<= 0:
 * d_in) to rows of width d. */
pt_status pt_encoder_init_prefix(pt_encoder *e, int S, int d_in, int H, int d, pt_rng *rng);
void pt_encoder_free(pt_encoder *e);

/* Overwrite the seed table embedding.weight (S, d_in) (--init vocab / words / FILE). */
void pt_encoder_set_seeds(pt_encoder *e, const float *table);

/* h (S, d) = f(seeds); keeps what backward needs. */
void pt_encoder_forward(pt_encoder *e, float *h);
/* grads += d(loss)/d(params) given dh (S, d) for the last forward. */
void pt_encoder_backward(pt_encoder *e, const float *dh);
void pt_encoder_zero_grad(pt_encoder *e);

/* Tensor lookup by name (NULL if absent). */
const pt_enc_tensor *pt_encoder_find(const pt_encoder *e, const char *name);

#endif
