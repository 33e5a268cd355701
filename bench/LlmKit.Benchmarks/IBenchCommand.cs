namespace LlmKit.Benchmarks;

/// <summary>One sub-command of the benchmark program: <c>dotnet run --project bench/LlmKit.Benchmarks -- NAME [args]</c>.</summary>
internal interface IBenchCommand
{
    /// <summary>The sub-command name (first argument).</summary>
    string Name { get; }

    /// <summary>One line for the usage listing.</summary>
    string Summary { get; }

    /// <summary>Runs the command; returns the process exit code.</summary>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}
