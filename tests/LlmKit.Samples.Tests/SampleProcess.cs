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

    public static async Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)> RunAsync(string sample, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
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
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{sample} did not exit within 90 s. stderr so far: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }
}
