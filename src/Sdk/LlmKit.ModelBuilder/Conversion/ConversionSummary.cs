namespace LlmKit.ModelBuilder;

/// <summary>One file of a converted model folder.</summary>
/// <param name="Name">File name relative to the output folder.</param>
/// <param name="Bytes">File size.</param>
public sealed record WrittenFile(string Name, long Bytes);

/// <summary>The outcome of a conversion. Immutable.</summary>
/// <param name="OutputDirectory">Full path of the model folder.</param>
/// <param name="Files">The files written, with sizes.</param>
/// <param name="Config">The model shape.</param>
/// <param name="GraphForm">The decoder graph emitted.</param>
/// <param name="ContextLength">The context length in genai_config.json.</param>
/// <param name="ParameterCount">Number of model parameters (a shared classifier counted once).</param>
/// <param name="Elapsed">Wall-clock time of the conversion.</param>
public sealed record ConversionSummary(
    string OutputDirectory,
    IReadOnlyList<WrittenFile> Files,
    LlamaConfig Config,
    OnnxGraphForm GraphForm,
    int ContextLength,
    long ParameterCount,
    TimeSpan Elapsed)
{
    /// <summary>How projection weights are stored.</summary>
    public WeightPrecision Precision { get; init; } = WeightPrecision.Fp32;

    /// <summary>With <see cref="WeightPrecision.Int4"/>: whether blocks carry zero points.</summary>
    public bool Int4ZeroPoints { get; init; }

    /// <summary>With <see cref="WeightPrecision.Int4"/>: the MatMulNBits accuracy_level written (0 = attribute left out, exact activations).</summary>
    public int Int4AccuracyLevel { get; init; }

    /// <summary>Total bytes written.</summary>
    public long TotalBytes => Files.Sum(f => f.Bytes);
}
