namespace LlmKit.Plugins.FewShot.Storage;

/// <summary>An example file has a malformed line; the message names the source and the 1-based line number.</summary>
public sealed class ExampleFileFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">File path or another name of the source.</param>
    /// <param name="lineNumber">1-based line number of the bad line.</param>
    /// <param name="problem">What is wrong with the line.</param>
    /// <param name="innerException">The parser error, if any.</param>
    public ExampleFileFormatException(string source, int lineNumber, string problem, Exception? innerException = null)
        : base($"{source}, line {lineNumber}: {problem}", innerException)
    {
        Source = source;
        LineNumber = lineNumber;
    }

    /// <summary>File path or another name of the source.</summary>
    public new string Source { get; }

    /// <summary>1-based line number of the bad line.</summary>
    public int LineNumber { get; }
}
