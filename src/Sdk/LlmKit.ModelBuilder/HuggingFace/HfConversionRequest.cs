namespace LlmKit.ModelBuilder;

/// <summary>What <see cref="HfConverter.Convert"/> converts and where. Immutable.</summary>
/// <param name="InputDirectory">A Hugging Face checkpoint folder: config.json, model.safetensors (or shards with model.safetensors.index.json), tokenizer.json.</param>
/// <param name="OutputDirectory">The model folder to create.</param>
public sealed record HfConversionRequest(string InputDirectory, string OutputDirectory)
{
    /// <summary>Replace an output folder llmkit wrote (marked by <c>.llmkit-output</c>).</summary>
    public bool Force { get; init; }

    /// <summary>Context length written to genai_config.json and the size of the RoPE tables; null = max_position_embeddings.</summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// How weights are stored: <see cref="WeightPrecision.Fp32"/>, <see cref="WeightPrecision.Fp16"/> (an fp16 graph:
    /// KV cache and logits in float16 too) or <see cref="WeightPrecision.Int4"/> (projections; fp32 activations).
    /// </summary>
    public WeightPrecision Precision { get; init; } = WeightPrecision.Fp32;

    /// <summary>With int4: MatMulNBits accuracy_level in [0, 4] (4 = int8 activations, the official CPU default; 0 = exact).</summary>
    public int Int4AccuracyLevel { get; init; } = Llama2cConversionRequest.DefaultInt4AccuracyLevel;

    /// <summary>
    /// Give q, k, v, o, gate, up and down of every layer LoRA inputs (rank 0 by default, so the folder computes exactly
    /// what the plain one does), in the checkpoint's row order, for adapters converted by <see cref="LoraAdapterConverter"/>
    /// (<c>llmkit adapter</c>) from PEFT folders trained on this checkpoint. Not for Phi3 (fused qkv_proj / gate_up_proj)
    /// or <see cref="WeightPrecision.Fp16"/> (the adapter tensors are float32).
    /// </summary>
    public bool LoraInputs { get; init; }

    /// <summary>Model size above which tensors go to <c>model.onnx.data</c> (protobuf messages are limited to 2 GiB).</summary>
    public long ExternalDataThresholdBytes { get; init; } = 1L << 30;

    /// <summary>Receives progress (phase, done, total); called on the converting thread.</summary>
    public IProgress<HfConversionProgress>? Progress { get; init; }
}

/// <summary>One progress report of a Hugging Face conversion.</summary>
/// <param name="Phase">What is being done: "read", "convert" or "write".</param>
/// <param name="Done">Steps done in this phase.</param>
/// <param name="Total">Steps in this phase.</param>
public readonly record struct HfConversionProgress(string Phase, int Done, int Total);

/// <summary>The outcome of a Hugging Face conversion. Immutable.</summary>
/// <param name="OutputDirectory">Full path of the model folder.</param>
/// <param name="Files">The files written, with sizes.</param>
/// <param name="Architecture">The config.json architecture, e.g. Qwen2ForCausalLM.</param>
/// <param name="ModelType">The genai_config.json model.type, e.g. qwen2.</param>
/// <param name="ParameterCount">Number of parameters (a tied head counted once).</param>
/// <param name="ContextLength">The context length in genai_config.json.</param>
/// <param name="Precision">How projection weights are stored.</param>
/// <param name="SlidingWindow">The sliding window, or null.</param>
/// <param name="Elapsed">Wall-clock time of the conversion.</param>
public sealed record HfConversionSummary(
    string OutputDirectory,
    IReadOnlyList<WrittenFile> Files,
    string Architecture,
    string ModelType,
    long ParameterCount,
    int ContextLength,
    WeightPrecision Precision,
    int? SlidingWindow,
    TimeSpan Elapsed)
{
    /// <summary>Total bytes written.</summary>
    public long TotalBytes => Files.Sum(f => f.Bytes);
}
