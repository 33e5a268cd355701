using System.Text.Json.Serialization;

namespace LlmKit.Models;

/// <summary>
/// The contents of an ONNX GenAI model folder's <c>genai_config.json</c>, in the official onnxruntime-genai schema.
/// Unknown fields are ignored so folders from newer builders still load, except the ones that would change what the
/// model computes (multimodal parts, pipelines, adapters): <see cref="GenAIConfigReader"/> refuses those by name.
/// </summary>
public sealed class GenAIConfig
{
    /// <summary>The <c>model</c> section.</summary>
    [JsonPropertyName("model")]
    public GenAIModelSection Model { get; set; } = new();

    /// <summary>The <c>search</c> section: default generation settings.</summary>
    [JsonPropertyName("search")]
    public GenAISearchSection Search { get; set; } = new();
}

/// <summary>The <c>model</c> section of <c>genai_config.json</c>.</summary>
public sealed class GenAIModelSection
{
    /// <summary>Architecture name, e.g. <c>llama</c>, <c>phi3</c>, <c>qwen2</c>, <c>mistral</c>, <c>gpt2</c>; see <see cref="GenAIConfigReader.SupportedModelTypes"/>.</summary>
    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    /// <summary>Beginning-of-sequence token id.</summary>
    [JsonPropertyName("bos_token_id")]
    public int BosTokenId { get; set; } = -1;

    /// <summary>End-of-sequence token ids (the file may hold one int or an array).</summary>
    [JsonPropertyName("eos_token_id")]
    [JsonConverter(typeof(IntOrIntArrayConverter))]
    public int[] EosTokenIds { get; set; } = [];

    /// <summary>Padding token id.</summary>
    [JsonPropertyName("pad_token_id")]
    [JsonConverter(typeof(IntOrIntArrayConverter))]
    public int[] PadTokenIds { get; set; } = [];

    /// <summary>Maximum number of tokens (prompt plus generated) the model supports.</summary>
    [JsonPropertyName("context_length")]
    public int ContextLength { get; set; }

    /// <summary>Vocabulary size (length of the logits' last axis).</summary>
    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; set; }

    /// <summary>The decoder graph description.</summary>
    [JsonPropertyName("decoder")]
    public GenAIDecoderSection Decoder { get; set; } = new();

    /// <summary>Fields of the section that this schema does not name (checked for ones LlmKit cannot act on).</summary>
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? Unknown { get; set; }
}

/// <summary>The <c>model.decoder</c> section of <c>genai_config.json</c>.</summary>
public sealed class GenAIDecoderSection
{
    /// <summary>The ONNX file, relative to the model folder.</summary>
    [JsonPropertyName("filename")]
    public string Filename { get; set; } = "";

    /// <summary>Size of one attention head.</summary>
    [JsonPropertyName("head_size")]
    public int HeadSize { get; set; }

    /// <summary>Hidden (model) dimension.</summary>
    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; set; }

    /// <summary>Number of query heads (0 when the file omits it: GPT-2 folders; the loader then reads the head count from the graph).</summary>
    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; set; }

    /// <summary>Number of transformer layers.</summary>
    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; set; }

    /// <summary>Number of key/value heads (less than query heads for grouped-query attention).</summary>
    [JsonPropertyName("num_key_value_heads")]
    public int NumKeyValueHeads { get; set; }

    /// <summary>ONNX Runtime session options requested by the model folder.</summary>
    [JsonPropertyName("session_options")]
    public GenAISessionOptions SessionOptions { get; set; } = new();

    /// <summary>Graph input names.</summary>
    [JsonPropertyName("inputs")]
    public GenAIDecoderInputs Inputs { get; set; } = new();

    /// <summary>Graph output names.</summary>
    [JsonPropertyName("outputs")]
    public GenAIDecoderOutputs Outputs { get; set; } = new();

    /// <summary>Sliding-window attention settings, when the model uses them.</summary>
    [JsonPropertyName("sliding_window")]
    public GenAISlidingWindow? SlidingWindow { get; set; }

    /// <summary>Fields of the section that this schema does not name (checked for ones LlmKit cannot act on).</summary>
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? Unknown { get; set; }
}

/// <summary>The <c>session_options</c> of the decoder.</summary>
public sealed class GenAISessionOptions
{
    /// <summary>Log identifier for ONNX Runtime.</summary>
    [JsonPropertyName("log_id")]
    public string? LogId { get; set; }

    /// <summary>Intra-op thread count requested by the folder (0 or absent: runtime default).</summary>
    [JsonPropertyName("intra_op_num_threads")]
    public int? IntraOpNumThreads { get; set; }

    /// <summary>Execution providers in priority order: each entry is an object with one key (the provider name) whose value holds its options.</summary>
    [JsonPropertyName("provider_options")]
    public List<Dictionary<string, Dictionary<string, string>>> ProviderOptions { get; set; } = [];
}

/// <summary>Input names of the decoder graph (defaults are the official builder's names).</summary>
public sealed class GenAIDecoderInputs
{
    /// <summary>Token ids input.</summary>
    [JsonPropertyName("input_ids")]
    public string InputIds { get; set; } = "input_ids";

    /// <summary>Attention mask input.</summary>
    [JsonPropertyName("attention_mask")]
    public string AttentionMask { get; set; } = "attention_mask";

    /// <summary>Position ids input; absent in graphs that derive positions internally.</summary>
    [JsonPropertyName("position_ids")]
    public string? PositionIds { get; set; }

    /// <summary>Past key name pattern with <c>%d</c> for the layer index.</summary>
    [JsonPropertyName("past_key_names")]
    public string PastKeyNames { get; set; } = "past_key_values.%d.key";

    /// <summary>Past value name pattern with <c>%d</c> for the layer index.</summary>
    [JsonPropertyName("past_value_names")]
    public string PastValueNames { get; set; } = "past_key_values.%d.value";

    /// <summary>
    /// Combined past key/value name pattern with <c>%d</c> (GPT-2 graphs: one tensor [2, batch, heads, sequence, head_size]
    /// per layer); when set, the separate key/value names are not used.
    /// </summary>
    [JsonPropertyName("past_names")]
    public string? PastNames { get; set; }
}

/// <summary>Output names of the decoder graph (defaults are the official builder's names).</summary>
public sealed class GenAIDecoderOutputs
{
    /// <summary>Logits output.</summary>
    [JsonPropertyName("logits")]
    public string Logits { get; set; } = "logits";

    /// <summary>Present key name pattern with <c>%d</c> for the layer index.</summary>
    [JsonPropertyName("present_key_names")]
    public string PresentKeyNames { get; set; } = "present.%d.key";

    /// <summary>Present value name pattern with <c>%d</c> for the layer index.</summary>
    [JsonPropertyName("present_value_names")]
    public string PresentValueNames { get; set; } = "present.%d.value";

    /// <summary>Combined present key/value name pattern with <c>%d</c> (GPT-2 graphs); pairs with <see cref="GenAIDecoderInputs.PastNames"/>.</summary>
    [JsonPropertyName("present_names")]
    public string? PresentNames { get; set; }
}

/// <summary>Sliding-window attention description.</summary>
public sealed class GenAISlidingWindow
{
    /// <summary>Number of most recent tokens each token attends to.</summary>
    [JsonPropertyName("window_size")]
    public int WindowSize { get; set; }
}

/// <summary>The <c>search</c> section of <c>genai_config.json</c>: the folder's default generation settings.</summary>
public sealed class GenAISearchSection
{
    /// <summary>Sample (true) or decode greedily (false).</summary>
    [JsonPropertyName("do_sample")]
    public bool DoSample { get; set; }

    /// <summary>Stop beams early (beam search only).</summary>
    [JsonPropertyName("early_stopping")]
    public bool EarlyStopping { get; set; } = true;

    /// <summary>Beam length penalty.</summary>
    [JsonPropertyName("length_penalty")]
    public float LengthPenalty { get; set; } = 1f;

    /// <summary>Maximum total length (prompt plus generated tokens).</summary>
    [JsonPropertyName("max_length")]
    public int MaxLength { get; set; }

    /// <summary>Minimum total length.</summary>
    [JsonPropertyName("min_length")]
    public int MinLength { get; set; }

    /// <summary>Size of n-grams that may not repeat (0 = off).</summary>
    [JsonPropertyName("no_repeat_ngram_size")]
    public int NoRepeatNGramSize { get; set; }

    /// <summary>Number of beams (1 = no beam search).</summary>
    [JsonPropertyName("num_beams")]
    public int NumBeams { get; set; } = 1;

    /// <summary>Number of sequences returned.</summary>
    [JsonPropertyName("num_return_sequences")]
    public int NumReturnSequences { get; set; } = 1;

    /// <summary>Whether past and present KV tensors share one buffer allocated at max length (GroupQueryAttention graphs).</summary>
    [JsonPropertyName("past_present_share_buffer")]
    public bool PastPresentShareBuffer { get; set; }

    /// <summary>Repetition penalty (1 = off).</summary>
    [JsonPropertyName("repetition_penalty")]
    public float RepetitionPenalty { get; set; } = 1f;

    /// <summary>Sampling temperature.</summary>
    [JsonPropertyName("temperature")]
    public float Temperature { get; set; } = 1f;

    /// <summary>Top-k filter (0 = off).</summary>
    [JsonPropertyName("top_k")]
    public int TopK { get; set; }

    /// <summary>Top-p (nucleus) filter (1 = off).</summary>
    [JsonPropertyName("top_p")]
    public float TopP { get; set; } = 1f;

    /// <summary>Diversity penalty of group beam search (0 = off; LlmKit supports only 0).</summary>
    [JsonPropertyName("diversity_penalty")]
    public float DiversityPenalty { get; set; }

    /// <summary>Fields of the section that this schema does not name (checked for ones LlmKit cannot act on).</summary>
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? Unknown { get; set; }
}
