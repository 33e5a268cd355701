namespace LlmKit.Models;

/// <summary>A model folder is missing a file, holds malformed JSON, or its graph disagrees with its configuration.</summary>
public sealed class ModelFolderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelFolderException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ModelFolderException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public ModelFolderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The file the problem is in, when known.</summary>
    public string? FilePath { get; init; }
}
