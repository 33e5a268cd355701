using System.Globalization;
using System.Text.RegularExpressions;
using LlmKit.Generation;
using LlmKit.Testing;

namespace LlmKit.Samples.Tests;

/// <summary>The ChatAgent command line as a contract: real process, real model, real stdout/stderr.</summary>
public partial class ChatAgentTests
{
    private static readonly string[] Lines =
    [
        "Tom had a red ball and he liked to play with it in the park.",
        "One day Lily found a little dog under a big tree.",
        "Can you tell me what happened next?",
        "The sun was warm and the birds were singing.",
        "Mom said it was time to go home for dinner.",
    ];

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

    [Fact]
    public async Task Interactive_session_of_40_piped_turns_outlives_the_context_and_every_turn_answers()
    {
        // The newcomer's session: default settings (no --max-tokens), stdin piped. Forty turns of about 150 tokens
        // each are many times the 512-token context: before the fix the session died with exit 1 around turn 4.
        string input = string.Concat(Enumerable.Range(0, 40).Select(i => Lines[i % Lines.Length] + "\n"));
        var run = await SampleProcess.RunAsync("ChatAgent", ["--model", TestModels.Stories260KFolder, "--system", "You tell short stories about Lily.", "--temperature", "0"],
            standardInput: input, timeout: TimeSpan.FromMinutes(5));

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Equal("", run.Stderr);
        var turns = TurnStatistics(run.Stdout);
        Assert.Equal(40, turns.Count);
        int maxLength = LoadedModels.Stories260K.MaxLength;
        Assert.All(turns, turn =>
        {
            Assert.True(turn.OutputTokens > 0, "every turn answers");
            Assert.True(turn.InputTokens + turn.OutputTokens <= maxLength, $"{turn.InputTokens} + {turn.OutputTokens} tokens overflow the context");
        });

        // The history really outgrew the context and was trimmed, more than once.
        Assert.True(DroppedNote().Matches(run.Stdout).Count >= 3, run.Stdout);
        Assert.True(turns.Sum(t => t.InputTokens + t.OutputTokens) > 10 * maxLength);
    }

    [Fact]
    public async Task An_over_long_line_is_reported_in_one_line_and_the_next_turn_answers()
    {
        string tooLong = string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 300));
        string input = $"{Lines[0]}\n{tooLong}\n{Lines[1]}\n";
        var run = await SampleProcess.RunAsync("ChatAgent", ["--model", TestModels.Stories260KFolder, "--temperature", "0", "--max-tokens", "20"], standardInput: input);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        var lines = run.Stdout.Split('\n');
        string report = Assert.Single(lines, l => l.Contains("chatagent: Message too long", StringComparison.Ordinal));
        Assert.Contains("Not sent; the conversation goes on.", report, StringComparison.Ordinal);
        Assert.Matches(@"Message too long: \d+ tokens, over the 492 a turn may use \(context 512, 20 kept for the answer\)", report);

        // Turns one and three answer; the third after the report, with the first turn still in its prompt.
        var turns = TurnStatistics(run.Stdout);
        Assert.Equal(2, turns.Count);
        Assert.All(turns, t => Assert.Equal(20, t.OutputTokens));
        Assert.True(run.Stdout.LastIndexOf("tokens · ", StringComparison.Ordinal) > run.Stdout.IndexOf(report, StringComparison.Ordinal));
        Assert.True(turns[1].InputTokens > turns[0].InputTokens + 20, "the history before the long line is kept");
    }

    [Fact]
    public async Task Interactive_configuration_errors_exit_non_zero_with_one_line_and_no_stack_trace()
    {
        string missing = Path.Combine(Path.GetTempPath(), "llmkit-no-such-model");
        string malformed = Directory.CreateTempSubdirectory("llmkit-chatagent-bad-model-").FullName;
        try
        {
            // A config the loader does not expect (today: a NullReferenceException deep in the reader).
            File.WriteAllText(Path.Combine(malformed, "genai_config.json"), "{\"model\":null}");
            foreach (string folder in new[] { missing, malformed })
            {
                var run = await SampleProcess.RunAsync("ChatAgent", ["--model", folder], standardInput: "hello\n");
                Assert.NotEqual(0, run.ExitCode);
                string error = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                Assert.StartsWith("chatagent: ", error, StringComparison.Ordinal);
                Assert.Contains(folder, error, StringComparison.Ordinal);
                Assert.DoesNotContain("bot>", run.Stdout, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(malformed, recursive: true);
        }
    }

    /// <summary>The statistics line after each answer (Spectre wraps long lines at 80 columns, so words may be split by line breaks).</summary>
    private static List<(int OutputTokens, int InputTokens)> TurnStatistics(string stdout) =>
        [.. StatisticsLine().Matches(stdout).Select(m => (
            int.Parse(m.Groups["output"].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups["input"].Value, CultureInfo.InvariantCulture)))];

    [GeneratedRegex(@"^(?<output>\d+) tokens · [^(]*\(\d+\s+of\s+(?<input>\d+)\s+prompt\s+tokens", RegexOptions.Multiline)]
    private static partial Regex StatisticsLine();

    [GeneratedRegex(@"\(\d+\s+earlier\s+messages\s+dropped\s+to\s+fit\s+the\s+context;\s+the\s+system\s+message\s+is\s+kept\.\)")]
    private static partial Regex DroppedNote();
}
