using System.Globalization;
using LlmKit.Generation;
using LlmKit.Testing;

namespace LlmKit.Samples.Tests;

/// <summary>The ChatAgent command line as a contract: real process, real model, real stdout/stderr.</summary>
public class ChatAgentTests
{
    // llama2.c's reference run is 256 steps counting the prompt's tokens (BOS included).
    private static int ReferenceNewTokens => LoadedModels.ReferenceSteps - LoadedModels.Stories260K.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length;

    [Fact]
    public async Task One_shot_raw_greedy_on_the_default_model_prints_the_reference_continuation()
    {
        // A fresh cache folder: the first run converts the shared stories260K fixture, the second reuses it.
        string cache = Directory.CreateTempSubdirectory("llmkit-chatagent-cache-").FullName;
        try
        {
            var environment = new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = cache };
            string[] arguments = ["--prompt", LoadedModels.ReferencePrompt, "--raw", "--temperature", "0", "--max-tokens", ReferenceNewTokens.ToString(CultureInfo.InvariantCulture)];

            var first = await SampleProcess.RunAsync("ChatAgent", arguments, environment);
            Assert.True(first.ExitCode == 0, $"exit {first.ExitCode}: {first.Stderr}");
            Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + first.Stdout, StringComparison.Ordinal);
            Assert.Contains("Converting stories260K", first.Stderr, StringComparison.Ordinal);
            Assert.Contains("tok/s", first.Stderr, StringComparison.Ordinal);
            Assert.Contains($"{ReferenceNewTokens} new tokens", first.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("tok/s", first.Stdout, StringComparison.Ordinal);

            var second = await SampleProcess.RunAsync("ChatAgent", arguments, environment);
            Assert.Equal(first.Stdout, second.Stdout);
            Assert.DoesNotContain("Converting", second.Stderr, StringComparison.Ordinal);
            Assert.Single(Directory.GetDirectories(Path.Combine(cache, "llmkit", "models")));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task Model_from_the_environment_and_length_finish_are_reported()
    {
        var run = await SampleProcess.RunAsync("ChatAgent", ["--prompt", "The little dog", "--max-tokens", "12", "--temperature", "0"],
            new Dictionary<string, string?> { ["LLMKIT_MODEL"] = TestModels.Stories260KFolder });

        Assert.True(run.ExitCode == 0, run.Stderr);
        var direct = await LoadedModels.Stories260K.GenerateAsync("The little dog", new GenerationOptions { Temperature = 0, MaxNewTokens = 12 });
        Assert.Equal(direct.Text, run.Stdout);
        Assert.Contains("finish length", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("None template", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_arguments_and_missing_models_fail_with_a_clear_message_and_no_stdout()
    {
        var badTopP = await SampleProcess.RunAsync("ChatAgent", ["--model", TestModels.Stories260KFolder, "--prompt", "x", "--top-p", "2"]);
        Assert.Equal(2, badTopP.ExitCode);
        Assert.Contains("top_p", badTopP.Stderr, StringComparison.Ordinal);
        Assert.Equal("", badTopP.Stdout);

        var noFixture = await SampleProcess.RunAsync("ChatAgent", ["--prompt", "x"], new Dictionary<string, string?> { ["LLMKIT_SHARED"] = Path.Combine(Path.GetTempPath(), "llmkit-no-shared") });
        Assert.Equal(1, noFixture.ExitCode);
        Assert.Contains("Pass --model DIR or set LLMKIT_MODEL", noFixture.Stderr, StringComparison.Ordinal);
        Assert.Contains("cpu-int4", noFixture.Stderr, StringComparison.Ordinal);
        Assert.Equal("", noFixture.Stdout);

        string missing = Path.Combine(Path.GetTempPath(), "llmkit-no-such-model");
        var noModel = await SampleProcess.RunAsync("ChatAgent", ["--model", missing, "--prompt", "x"]);
        Assert.Equal(1, noModel.ExitCode);
        Assert.Contains(missing, noModel.Stderr, StringComparison.Ordinal);
        Assert.Equal("", noModel.Stdout);
    }
}
