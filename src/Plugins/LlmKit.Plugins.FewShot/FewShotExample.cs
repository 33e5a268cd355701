namespace LlmKit.Plugins.FewShot;

/// <summary>One demonstration of a task: an input and the output the model should produce for it.</summary>
/// <remarks>Immutable and thread-safe. Selectors compare examples by reference, so keep one instance per example.</remarks>
public sealed record FewShotExample
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    /// <summary>Creates an example.</summary>
    /// <param name="input">The task input (the user turn); must not be null or whitespace.</param>
    /// <param name="output">The expected output (the assistant turn); must not be null (may be empty).</param>
    /// <param name="label">Optional class label, used by label-balanced selection and label-agreement metrics.</param>
    /// <param name="metadata">Optional free-form metadata (source, id, ...). Never sent to the model.</param>
    /// <exception cref="ArgumentException"><paramref name="input"/> is empty or whitespace.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="output"/> is null.</exception>
    public FewShotExample(string input, string output, string? label = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(input);
        ArgumentNullException.ThrowIfNull(output);
        Input = input;
        Output = output;
        Label = string.IsNullOrEmpty(label) ? null : label;
        Metadata = metadata ?? NoMetadata;
    }

    /// <summary>The task input, rendered as the user turn.</summary>
    public string Input { get; }

    /// <summary>The expected output, rendered as the assistant turn.</summary>
    public string Output { get; }

    /// <summary>Class label, or null when the task has none.</summary>
    public string? Label { get; }

    /// <summary>Free-form metadata; empty when none was given.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}
