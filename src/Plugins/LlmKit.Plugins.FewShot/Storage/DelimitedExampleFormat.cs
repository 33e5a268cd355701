namespace LlmKit.Plugins.FewShot.Storage;

/// <summary>
/// How a CSV/TSV file maps to examples. A column is named by its header text (case-insensitive) when
/// <see cref="HasHeader"/> is true, or by its 0-based index (e.g. "1") in either case.
/// </summary>
public sealed record DelimitedExampleFormat
{
    /// <summary>Comma-separated with a header row holding "input", "output" and optionally "label".</summary>
    public static DelimitedExampleFormat Csv { get; } = new();

    /// <summary>Tab-separated with a header row holding "input", "output" and optionally "label".</summary>
    public static DelimitedExampleFormat Tsv { get; } = new() { Delimiter = '\t', Quoted = false };

    /// <summary>Field separator. Default ','.</summary>
    public char Delimiter { get; init; } = ',';

    /// <summary>
    /// Whether a field that starts with '"' is quoted (RFC 4180: may hold delimiters, line breaks and doubled quotes).
    /// Default true; <see cref="Tsv"/> turns it off because tab-separated files rarely quote and often hold stray quotes.
    /// </summary>
    public bool Quoted { get; init; } = true;

    /// <summary>Whether the first line holds column names. Default true.</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>Column holding the input. Default "input".</summary>
    public string InputColumn { get; init; } = "input";

    /// <summary>
    /// Column holding the output; null to use the label as the output (classification files). Default "output"
    /// (when a header lacks it, the label column is used as the output).
    /// </summary>
    public string? OutputColumn { get; init; } = "output";

    /// <summary>Column holding the label; null when there is none. Default "label" (ignored when the header lacks it).</summary>
    public string? LabelColumn { get; init; } = "label";

    /// <summary>Optional mapping from raw label values to the output text (e.g. "1" → "positive").</summary>
    public IReadOnlyDictionary<string, string>? LabelNames { get; init; }
}
