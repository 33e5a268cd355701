using LlmKit.ModelBuilder.Cli;

namespace LlmKit.ModelBuilder;

/// <summary>Entry point of the <c>llmkit</c> tool.</summary>
public static class Program
{
    /// <summary>Runs the tool: <c>llmkit convert llama2c ...</c> or <c>llmkit synth llama2c ...</c>.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>0 on success, 1 on an error (one line on stderr), 2 on bad usage.</returns>
    public static int Main(string[] args) => CommandLineApp.Run(args, Console.Out, Console.Error);
}
