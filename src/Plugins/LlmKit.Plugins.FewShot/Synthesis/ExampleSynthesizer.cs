using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmKit.Plugins.FewShot.Metrics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmKit.Plugins.FewShot.Synthesis;

/// <summary>
/// Grows an example pool with the model itself. Self-Instruct style: show a few existing examples and ask for a new
/// input/output pair as JSON. Magpie style: give the model only the chat template's user-turn prefix so it writes a
/// request, then ask it to answer that request. Either way a candidate is kept only if its input's ROUGE-L F1
/// against every kept input is below <see cref="ExampleSynthesizerOptions.MaxRougeL"/>, which stops near-duplicates.
/// </summary>
/// <remarks>One instance may serve concurrent runs; each run has its own state.</remarks>
public sealed partial class ExampleSynthesizer
{
    // The prompt is read by a model, not a browser: keep quotes and non-ASCII text as they are.
    private static readonly JsonSerializerOptions PromptJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IChatClient _chatClient;
    private readonly ExampleSynthesizerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a synthesizer.</summary>
    /// <param name="chatClient">The model that writes candidates.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="logger">Receives a summary per run (counts only).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its range.</exception>
    public ExampleSynthesizer(IChatClient chatClient, ExampleSynthesizerOptions? options = null, ILogger<ExampleSynthesizer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        _options = options ?? new ExampleSynthesizerOptions();
        _options.Validate();
        _chatClient = chatClient;
        _logger = logger ?? NullLogger<ExampleSynthesizer>.Instance;
    }

    /// <summary>Self-Instruct style: asks for new pairs modelled on <paramref name="seeds"/>.</summary>
    /// <param name="seeds">Existing examples; at least one. They are never returned, but new inputs must differ from them.</param>
    /// <param name="count">How many new examples to produce; at least 1. Fewer come back when attempts run out.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <exception cref="ArgumentException"><paramref name="seeds"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    public async Task<SynthesisResult> SynthesizeAsync(IReadOnlyList<FewShotExample> seeds, int count, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0)
        {
            throw new ArgumentException("Self-Instruct synthesis needs at least one seed example.", nameof(seeds));
        }

        CheckCount(count);
        bool withLabels = seeds.Any(s => s.Label is not null);
        var run = new Run(seeds, _options.MaxRougeL);
        var random = new Random(_options.Seed);
        int attempts = 0;
        while (run.Added.Count < count && attempts < count * _options.MaxAttemptsPerExample)
        {
            cancellationToken.ThrowIfCancellationRequested();
            attempts++;
            string prompt = BuildPrompt(run.Pool, random, withLabels);
            var response = await _chatClient.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], _options.ChatOptions, cancellationToken).ConfigureAwait(false);
            var candidate = ParseCandidate(response.Text);
            run.Offer(candidate);
        }

        return run.Finish(attempts, _logger);
    }

    /// <summary>
    /// Magpie style: the model continues only <see cref="MagpieTemplate.UserTurnPrefix"/>, so it writes a request of the
    /// kind it was aligned on; the request (cut at <see cref="MagpieTemplate.UserTurnEnd"/>) is then answered through the chat client.
    /// </summary>
    /// <param name="complete">Raw (template-free) text completion by the same model.</param>
    /// <param name="template">The chat template's user-turn prefix and end marker.</param>
    /// <param name="count">How many new examples to produce; at least 1.</param>
    /// <param name="existing">Examples new inputs must differ from; may be null.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The template's prefix or end marker is empty.</exception>
    public async Task<SynthesisResult> SynthesizeMagpieAsync(
        RawTextCompletion complete,
        MagpieTemplate template,
        int count,
        IReadOnlyList<FewShotExample>? existing = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(complete);
        ArgumentNullException.ThrowIfNull(template);
        if (string.IsNullOrEmpty(template.UserTurnPrefix) || string.IsNullOrEmpty(template.UserTurnEnd))
        {
            throw new ArgumentException("The Magpie template needs a non-empty user-turn prefix and end marker.", nameof(template));
        }

        CheckCount(count);
        var run = new Run(existing ?? [], _options.MaxRougeL);
        int attempts = 0;
        while (run.Added.Count < count && attempts < count * _options.MaxAttemptsPerExample)
        {
            cancellationToken.ThrowIfCancellationRequested();
            attempts++;
            string generated = await complete(template.UserTurnPrefix, cancellationToken).ConfigureAwait(false) ?? string.Empty;
            int end = generated.IndexOf(template.UserTurnEnd, StringComparison.Ordinal);
            string request = (end >= 0 ? generated[..end] : generated).Trim();
            if (request.Length == 0 || !run.IsNovel(request))
            {
                run.Offer(request.Length == 0 ? null : new FewShotExample(request, string.Empty));
                continue;
            }

            var answer = await _chatClient.GetResponseAsync([new ChatMessage(ChatRole.User, request)], _options.ChatOptions, cancellationToken).ConfigureAwait(false);
            string output = answer.Text.Trim();
            run.Offer(output.Length == 0 ? null : new FewShotExample(request, output));
        }

        return run.Finish(attempts, _logger);
    }

    /// <summary>Reads the first JSON object in a reply as an example; null when there is none or it lacks input/output.</summary>
    internal static FewShotExample? ParseCandidate(string? reply)
    {
        if (string.IsNullOrEmpty(reply))
        {
            return null;
        }

        int start = reply.IndexOf('{', StringComparison.Ordinal);
        int end = reply.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(reply.AsMemory(start, end - start + 1));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("output", out var output) || output.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            string? label = root.TryGetProperty("label", out var l) && l.ValueKind == JsonValueKind.String ? l.GetString() : null;
            string inputText = input.GetString()!.Trim();
            string outputText = output.GetString()!.Trim();
            return inputText.Length == 0 || outputText.Length == 0 ? null : new FewShotExample(inputText, outputText, label);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private string BuildPrompt(List<FewShotExample> pool, Random random, bool withLabels)
    {
        var prompt = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(_options.TaskDescription))
        {
            prompt.Append("Task: ").AppendLine(_options.TaskDescription.Trim()).AppendLine();
        }

        prompt.AppendLine("Here are examples of the task:").AppendLine();
        var shown = pool.OrderBy(_ => random.Next()).Take(_options.ExamplesPerPrompt).ToList();
        for (int i = 0; i < shown.Count; i++)
        {
            var fields = new Dictionary<string, string> { ["input"] = shown[i].Input, ["output"] = shown[i].Output };
            if (withLabels && shown[i].Label is not null)
            {
                fields["label"] = shown[i].Label!;
            }

            prompt.Append("Example ").Append(i + 1).Append(": ").AppendLine(JsonSerializer.Serialize(fields, PromptJson));
        }

        prompt.AppendLine()
            .Append("Write ONE new example of the same task whose input is clearly different from all of the above. ")
            .Append("Reply with only a JSON object with the string fields \"input\" and \"output\"")
            .AppendLine(withLabels ? " and \"label\"." : ".");
        return prompt.ToString();
    }

    private static void CheckCount(int count)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Example synthesis: kept {Kept} after {Attempts} attempts ({Similar} too similar, {Malformed} malformed).")]
    private static partial void LogRun(ILogger logger, int kept, int attempts, int similar, int malformed);

    /// <summary>State of one run: the pool new inputs are compared against, and the counters.</summary>
    private sealed class Run
    {
        private readonly List<IReadOnlyList<string>> _keptTokens = [];
        private readonly double _threshold;
        private int _similar;
        private int _malformed;

        public Run(IReadOnlyList<FewShotExample> existing, double threshold)
        {
            _threshold = threshold;
            Pool = [.. existing];
            foreach (var example in existing)
            {
                _keptTokens.Add(RougeL.Tokenize(example.Input));
            }
        }

        public List<FewShotExample> Pool { get; }

        public List<FewShotExample> Added { get; } = [];

        public bool IsNovel(string input)
        {
            var tokens = RougeL.Tokenize(input);
            foreach (var kept in _keptTokens)
            {
                if (RougeL.Score(tokens, kept).F1 >= _threshold)
                {
                    return false;
                }
            }

            return true;
        }

        public void Offer(FewShotExample? candidate)
        {
            if (candidate is null)
            {
                _malformed++;
            }
            else if (!IsNovel(candidate.Input))
            {
                _similar++;
            }
            else
            {
                Added.Add(candidate);
                Pool.Add(candidate);
                _keptTokens.Add(RougeL.Tokenize(candidate.Input));
            }
        }

        public SynthesisResult Finish(int attempts, ILogger logger)
        {
            LogRun(logger, Added.Count, attempts, _similar, _malformed);
            return new SynthesisResult(Added, attempts, _similar, _malformed);
        }
    }
}
