namespace LlmKit.ModelBuilder;

/// <summary>Entry point of the <c>llmkit</c> tool.</summary>
public static class Program
{
    /// <summary>Runs the tool.</summary>
    public static int Main(string[] args) => args.Length == 0 ? 0 : 1;
}
