/* peft.h - Hugging Face PEFT prompt-learning adapters as ptune prompts, and
 * ptune prompts as PEFT adapters.
 *
 * A PEFT adapter directory (PeftModel.save_pretrained) holds:
 *   adapter_config.json        peft_type (P_TUNING | PROMPT_TUNING | PREFIX_TUNING here),
 * task_type, num_virtual_tokens n, token_dim d, num_transformer_submodules (1; 2 =
 * encoder-decoder), num_attention_heads, num_layers, base_model_name_or_path, inference_mode;
 * P_TUNING adds encoder_reparameterization_type (MLP | LSTM), encoder_hidden_size,
 * encoder_num_layers, encoder_dropout; PROMPT_TUNING adds prompt_tuning_init,
 *                              prompt_tuning_init_text, tokenizer_name_or_path, tokenizer_kwargs
 *   adapter_model.safetensors  one tensor, prompt_embeddings (n * submodules, d): the prompt
 *                              encoder's output (PEFT loads it into an nn.Embedding with
 *                              strict key matching), __metadata__ {"format": "pt"}
 * PREFIX_TUNING (ptune's deep prompts, --method prefix | ptuning-v2 with an lm head):
 *   prompt_embeddings (P, num_layers * 2 * token_dim), every layer's keys and values;
 *   PEFT's get_prompt views a row as (num_layers * 2, num_attention_heads, head_dim)
 *   (layer l's key at 2l, value at 2l + 1), which is ptune's prompt.deep layout, so
 *   the rows are copied as they are. For a model with key/value heads (LLaMA, GQA)
 *   PEFT sets num_attention_heads = the KV heads and token_dim = their width;
 *   prefix_projection false (the file holds the encoder's output). The sequence
 *   keeps its start token (no [START] needed); positions start after the prefix.
 * PEFT's forward concatenates these (input-prompt) rows before the embeddings of the whole
 * input, its BOS / [CLS] included: virtual token k sits at position k. In a
 * ptune template that is "[P*n][START]..." ([START]: where the start token
 * goes; GPT-2 has none, so "[P*n]..." is the same there).
 *
 * ptune's export also writes its own ptune.* keys (template, labels, label
 * field, task, model identity; promptfile.h) into the safetensors
 * __metadata__, which PEFT ignores, so that importing the directory restores
 * the prompt exactly. A directory without them takes the template
 * "[P*n][START]{text} [MASK]" unless one is given, and needs its labels.
 */
#ifndef PT_PROMPT_PEFT_H
#define PT_PROMPT_PEFT_H

#include "models/model.h"
#include "prompt/promptfile.h"
#include "ptune.h"

#define PT_PEFT_CONFIG "adapter_config.json"
#define PT_PEFT_WEIGHTS "adapter_model.safetensors"

/* Load the adapter directory dir into p (o may be NULL; see promptfile.h).
 * Errors name the file and field; other adapter types (LoRA, encoder-decoder
 * prompts) are refused saying why. A PREFIX_TUNING adapter becomes a deep
 * prompt (p->deep, p->D, p->W; implied template "{text} [MASK]"). */
pt_status pt_peft_load(pt_prompt *p, const char *dir, const pt_prompt_overrides *o);

/* PT_OK if PEFT would place p's virtual tokens where ptune trained them: one
 * group, first, before the start token ([CLS], BOS) of the family (m's, or
 * p's recorded family when m is NULL); an lm head. A deep prompt: no input
 * virtual tokens, an lm head (ptuning-v2's linear head is refused), and m given.
 * Otherwise PT_ERR_UNSUPPORTED (PT_ERR_ARG without a needed model) saying why. */
pt_status pt_peft_check_layout(const pt_prompt *p, const pt_model *m);

/* Write dir (created if absent; its two files replaced atomically) for p,
 * after pt_peft_check_layout. m (may be NULL) fills num_layers,
 * num_attention_heads and base_model_name_or_path (m->path) and is checked
 * against p's identity. */
pt_status pt_peft_export(const pt_prompt *p, const pt_model *m, const char *dir);

#endif
