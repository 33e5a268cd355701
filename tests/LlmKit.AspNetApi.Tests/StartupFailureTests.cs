using System.Diagnostics;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// The server started as its own process with a bad setting or a bad model folder: it must exit with code 1 and
/// one line on stderr naming the problem, not abort (rc 134) with a stack trace.
/// </summary>
public sealed class StartupFailureTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("llmkit-aspnet-badmodel-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AGenaiConfigWithANullModelExitsWithOneLine()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder, "genai_config.json"), """{"model":null}""");
        var (exitCode, stderr) = await RunServerAsync("--LlmKit:ModelPath", _folder);
        // The runtime's own message is its concern (issue 17, errors); the server names the setting and the folder.
        AssertOneLineFailure(exitCode, stderr, "LlmKit:ModelPath");
        Assert.Contains(_folder, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingModelFolderExitsWithOneLine()
    {
        string missing = Path.Combine(_folder, "no-such-model");
        var (exitCode, stderr) = await RunServerAsync("--LlmKit:ModelPath", missing);
        AssertOneLineFailure(exitCode, stderr, "no-such-model");
    }

    [Theory]
    [InlineData("--Server:MaxConcurrentGenerations", "0", "Server:MaxConcurrentGenerations")]
    [InlineData("--Server:ApiKey", "short", "Server:ApiKey")]
    [InlineData("--Server:CorsAllowedOrigins:0", "not an origin", "Server:CorsAllowedOrigins")]
    public async Task AnInvalidServerSettingExitsWithOneLineNamingIt(string key, string value, string named)
    {
        var (exitCode, stderr) = await RunServerAsync("--LlmKit:ModelPath", LlmKit.Testing.TestModels.Stories260KFolder, key, value);
        AssertOneLineFailure(exitCode, stderr, named);
    }

    private static void AssertOneLineFailure(int exitCode, string stderr, string named)
    {
        Assert.Equal(1, exitCode);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}:\n{stderr}");
        Assert.Contains(named, lines[0], StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\bat [\w.`]+\.\w+\(", lines[0]); // no stack frame such as "at LlmKit.Models.X.Load("
    }

    private static async Task<(int ExitCode, string Stderr)> RunServerAsync(params string[] arguments)
    {
        // The sample's dll is copied beside this test assembly (project reference).
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LlmKit.Samples.AspNetApi.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        // A hang guard (a server that started would never exit), not a timing assertion.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The server did not exit within 60 s; it should have refused to start. stdout: {await stdout}");
        }

        await stdout;
        return (process.ExitCode, await stderr);
    }
}
