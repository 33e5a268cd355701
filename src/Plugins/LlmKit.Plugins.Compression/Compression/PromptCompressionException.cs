namespace LlmKit.Plugins.Compression;

/// <summary>Compression failed; the message says which stage and which segment or context.</summary>
public sealed class PromptCompressionException : Exception
{
    /// <summary>Creates an exception.</summary>
    public PromptCompressionException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public PromptCompressionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public PromptCompressionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Index of the segment (token-level pass) or context (ranking pass) that failed, when known.</summary>
    public int? SegmentIndex { get; init; }
}
