using System.Diagnostics;
using LlmKit.Testing;

namespace LlmKit.Samples.Tests;

/// <summary>Starts a built sample (ChatAgent.dll, PluginAgent.dll) with <c>dotnet</c> and captures its output.</summary>
internal static class SampleProcess
{
    /// <summary>The sample's dll built in the same configuration as this test assembly.</summary>
    public static string DllPath(string sample)
    {
        // This assembly lives in tests/LlmKit.Samples.Tests/bin/{Configuration}/{tfm}/.
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = tfm.Parent!.Name;
        string path = Path.Combine(SharedFixtures.RepositoryRoot, "samples", sample, "bin", configuration, tfm.Name, sample + ".dll");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{sample}.dll was not built at '{path}': build samples/{sample} (the test project references it).", path);
        }

        return path;
    }

    /// <summary>Runs the sample to its exit.</summary>
    /// <param name="sample">The sample's name (its project folder under samples/).</param>
    /// <param name="arguments">The command line.</param>
    /// <param name="environment">Extra environment variables.</param>
    /// <param name="standardInput">Piped to the sample's stdin, which is then closed; null closes it at once.</param>
    /// <param name="timeout">How long the process may run before it is killed (a hang guard, not a speed target); default 90 s.</param>
    public static async Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> RunAsync(
        string sample, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, string? standardInput = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            WorkingDirectory = SharedFixtures.RepositoryRoot,
        };
        start.ArgumentList.Add(DllPath(sample));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("LLMKIT_MODEL"); // the tests decide which model is used
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[key] = value;
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;

        // Output is drained before input is written, so a sample blocked on a full stdout pipe cannot stall the writer.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromSeconds(90);
        using var hangGuard = new CancellationTokenSource(limit);
        try
        {
            try
            {
                if (standardInput is not null)
                {
                    await process.StandardInput.WriteAsync(standardInput.AsMemory(), hangGuard.Token);
                }

                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The sample exited before reading all its input (e.g. on a bad model path): its exit code tells the test.
            }

            await process.WaitForExitAsync(hangGuard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{sample} did not exit within {limit.TotalSeconds:F0} s. stderr so far: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }
}
