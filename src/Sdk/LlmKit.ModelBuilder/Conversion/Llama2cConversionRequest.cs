namespace LlmKit.ModelBuilder;

/// <summary>What to convert and where to write it. Immutable.</summary>
/// <param name="CheckpointPath">The llama2.c checkpoint (<c>.bin</c>).</param>
/// <param name="TokenizerPath">The llama2.c tokenizer (<c>tok512.bin</c>-style) with one piece per vocabulary entry.</param>
/// <param name="OutputDirectory">The model folder to create; must not exist or be empty unless <paramref name="Force"/>.</param>
/// <param name="Force">Replace a non-empty output folder.</param>
/// <param name="GraphForm">The decoder graph to emit: by default the official onnxruntime-genai form (<see cref="OnnxGraphForm.OrtGenAI"/>).</param>
/// <param name="MaxLength">Context length written to genai_config.json and the RoPE tables; defaults to the checkpoint's seq_len.</param>
public sealed record Llama2cConversionRequest(
    string CheckpointPath,
    string TokenizerPath,
    string OutputDirectory,
    bool Force = false,
    OnnxGraphForm GraphForm = OnnxGraphForm.OrtGenAI,
    int? MaxLength = null)
{
    /// <summary>Default for <see cref="ExternalDataThresholdBytes"/>: 256 MiB.</summary>
    public const long DefaultExternalDataThresholdBytes = 256L << 20;

    /// <summary>
    /// Weights larger than this in total are written to <c>model.onnx.data</c> (ONNX external data) and streamed
    /// tensor by tensor; smaller models keep their weights inside <c>model.onnx</c>. Must be non-negative.
    /// </summary>
    public long ExternalDataThresholdBytes { get; init; } = DefaultExternalDataThresholdBytes;

    /// <summary>How projection weights are stored; <see cref="WeightPrecision.Int4"/> needs <see cref="OnnxGraphForm.OrtGenAI"/>.</summary>
    public WeightPrecision Precision { get; init; } = WeightPrecision.Fp32;

    /// <summary>With <see cref="WeightPrecision.Int4"/>: store a 4-bit zero point per block (asymmetric) instead of the implicit 8 (symmetric).</summary>
    public bool Int4ZeroPoints { get; init; }

    /// <summary>Default for <see cref="Int4AccuracyLevel"/>: 4, as the official builder writes for CPU.</summary>
    public const int DefaultInt4AccuracyLevel = 4;

    /// <summary>
    /// With <see cref="WeightPrecision.Int4"/>: the <c>accuracy_level</c> attribute of every MatMulNBits node, the
    /// lowest precision ONNX Runtime may compute in. 4 (the default, as the official builder does for CPU) quantises
    /// activations to int8 per block and multiplies in integers, about 1.5x faster decoding at about 1 % logit
    /// error; 0 leaves the attribute out, so activations stay fp32 and the product is exact over the dequantised
    /// weights; 1, 2 and 3 ask for fp32, fp16 and bf16 compute. Must be in [0, 4].
    /// </summary>
    public int Int4AccuracyLevel { get; init; } = DefaultInt4AccuracyLevel;

    /// <summary>
    /// RoPE scaling written into the graph's cos/sin caches (llama2.c checkpoints carry none): e.g.
    /// <c>RopeScaling.Parse("linear:4")</c>. Its original length defaults to the checkpoint's seq_len, and
    /// <see cref="MaxLength"/> then defaults to the scaled length. Dynamic (NTK) scaling changes its frequencies with
    /// each run's total length, so its graph takes cos_cache/sin_cache as inputs that the LlmKit runtime fills per run
    /// (OrtGenAI form only; onnxruntime-genai 0.20.0 cannot run such a folder). longrope whose short and long factors
    /// differ gets two pairs of tables and a switch on the run's total length (OrtGenAI form only; Standard refuses it).
    /// </summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>
    /// Give every projection (q, k, v, o, gate, up, down of every layer) LoRA inputs, so adapters written by
    /// <see cref="LoraAdapterConverter"/> (<c>llmkit adapter</c>) can be activated per request: y = x·W + (x·A)·B, where
    /// A and B default to rank-0 initializers and the base model is unchanged without an adapter. Needs
    /// <see cref="OnnxGraphForm.OrtGenAI"/>.
    /// </summary>
    public bool LoraInputs { get; init; }
}
