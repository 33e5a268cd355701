using System.Diagnostics;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// Runs the real <c>llmkit</c> tool (LlmKit.ModelBuilder.dll, copied beside the tests) as a child process, for the
/// cases that depend on the process's working directory (<c>--output .</c>), which an in-process run cannot set
/// without disturbing tests that run in parallel.
/// </summary>
internal static class LlmkitProcess
{
    public static (int Code, string Stdout, string Stderr) Run(string workingDirectory, params string[] args)
    {
        string tool = Path.Combine(AppContext.BaseDirectory, "LlmKit.ModelBuilder.dll");
        Assert.True(File.Exists(tool), $"The llmkit tool is missing: expected it at '{tool}'.");

        // The test host runs under the dotnet muxer; reuse it so the child gets the same runtime.
        string? host = Environment.ProcessPath;
        if (host is null || !Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            host = "dotnet";
        }

        var start = new ProcessStartInfo(host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(tool);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{host}'.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
