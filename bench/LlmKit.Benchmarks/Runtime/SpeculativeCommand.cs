using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>
/// <c>speculative</c>: greedy decode tok/s with and without prompt-lookup speculation, measured alternately in one run
/// on one loaded model, on a rewriting task (the prompt holds the answer) and on free continuation. Checks that both
/// runs produce the same tokens and reports the acceptance rate, tokens per model run, the cost of a verification run
/// against a one-token step, and the speed-up. With <c>--draft-model DIR</c> the drafts come from that draft model
/// (<see cref="GenerationOptions.DraftModel"/>, <c>--draft</c> tokens per run) instead of prompt lookup; <c>--draft-model same</c>
/// loads a second copy of the target's folder (a draft that always agrees: the upper bound of the mechanism), and
/// <c>--draft-model random</c> a seeded random 1-layer model with stories260K's tokenizer (a draft that seldom agrees).
/// </summary>
internal sealed class SpeculativeCommand : IBenchCommand
{
    // Written for this benchmark in the style of the TinyStories data stories260K was trained on. The 260K-parameter
    // model copies only its first sentence or so; the "rewriting (own story)" task gives it a story it wrote itself.
    private const string Story =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. " +
        "One day, she saw a big red ball under a tree. She ran to the ball and kicked it very high. " +
        "Her friend Tom laughed and said, \"Let's play together!\" They played all day and were very happy.";

    // The random draft of --draft-model random: a quarter of stories260K's width, one layer, its 512-token vocabulary.
    private static readonly LlamaConfig RandomDraftShape = new(Dim: 32, HiddenDim: 64, Layers: 1, Heads: 2, KvHeads: 2, VocabSize: 512, SeqLen: 512);

    public string Name => "speculative";

    public string Summary => "prompt-lookup speculative decoding: decode tok/s on vs off, rewriting and free continuation [--models stories,110m] [--forms ortgenai,standard] [--threads 1] [--draft 8] [--ngram 3] [--min-ngram 1] [--tokens 160] [--rounds 5] [--draft-model DIR|same|random] [--show]";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var models = Option(args, "--models", "stories,110m").Split(',');
        var forms = Option(args, "--forms", "ortgenai,standard").Split(',').Select(f => f == "ortgenai" ? OnnxGraphForm.OrtGenAI : OnnxGraphForm.Standard).ToArray();
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int draft = int.Parse(Option(args, "--draft", "8"), CultureInfo.InvariantCulture);
        int ngram = int.Parse(Option(args, "--ngram", "3"), CultureInfo.InvariantCulture);
        int minNgram = int.Parse(Option(args, "--min-ngram", "1"), CultureInfo.InvariantCulture);
        int tokens = int.Parse(Option(args, "--tokens", "160"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);
        string? draftModel = Option(args, "--draft-model", "") is { Length: > 0 } d ? d : null;
        var lookup = new PromptLookupOptions { DraftTokens = draft, MaxNGram = ngram, MinNGram = minNgram };
        string drafter = draftModel is null ? $"prompt lookup, draft {draft}, n-gram {ngram}..{minNgram}" : $"draft model {draftModel}, draft {draft}";

        Console.WriteLine($"# speculative — greedy, {threads} intra-op thread(s), {drafter}, {tokens} new tokens, {rounds} rounds (off/on alternating), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine();
        Console.WriteLine("| model | form | task | prompt tokens | new tokens | identical | drafted | accepted | acceptance | tokens / run | run cost vs 1-token step | B alloc / token off, on | off tok/s (median) | on tok/s (median) | speed-up |");
        Console.WriteLine("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|");
        foreach (string name in models)
        {
            foreach (var form in forms)
            {
                string folder = name == "110m" ? BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, form) : BenchModels.Stories260K(form);
                using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads });
                string? draftFolder = draftModel switch
                {
                    null => null,
                    "same" => folder,
                    "random" => BenchModels.SyntheticWithStoriesTokenizer(RandomDraftShape, seed: 16, form),
                    _ => draftModel,
                };
                using var draftLoaded = draftFolder is null ? null : OnnxGenAIModel.Load(draftFolder, new OnnxGenAIModelOptions { IntraOpThreads = threads });
                foreach (var (task, prompt, answerTokens) in Tasks(model, name, tokens, cancellationToken))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int limit = Math.Min(answerTokens, model.MaxLength - prompt.Length);
                    var off = new GenerationOptions { Temperature = 0, MaxNewTokens = limit, MinNewTokens = limit };
                    var on = draftLoaded is null ? off with { PromptLookup = lookup } : off with { DraftModel = new DraftModelOptions { Model = draftLoaded, DraftTokens = draft } };
                    Run(model, prompt, off, cancellationToken); // warm-up: JIT, arenas, multi-token shapes
                    Run(model, prompt, on, cancellationToken);
                    var offRuns = new List<Measurement>();
                    var onRuns = new List<Measurement>();
                    for (int round = 0; round < rounds; round++)
                    {
                        offRuns.Add(Run(model, prompt, off, cancellationToken));
                        onRuns.Add(Run(model, prompt, on, cancellationToken));
                    }

                    bool identical = offRuns.Concat(onRuns).All(m => m.Tokens.SequenceEqual(offRuns[0].Tokens));
                    var last = onRuns[^1];
                    double offRate = Median(offRuns.Select(m => m.TokensPerSecond));
                    double onRate = Median(onRuns.Select(m => m.TokensPerSecond));
                    double offStep = Median(offRuns.Select(m => m.SecondsPerRun));
                    double onStep = Median(onRuns.Select(m => m.SecondsPerRun));
                    if (args.Contains("--show"))
                    {
                        Console.WriteLine($"<!-- {task}: {model.Tokenizer.Decode(last.Tokens).ReplaceLineEndings(" ")} -->");
                    }

                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {name} | {form} | {task} | {prompt.Length} | {limit} | {(identical ? "yes" : "NO")} | {last.Drafted} | {last.Accepted} | {(last.Drafted == 0 ? 0 : 100.0 * last.Accepted / last.Drafted):F0}% | {(double)last.DecodeTokens / last.DecodeRuns:F2} | {onStep / offStep:F2}x | {offRuns[^1].BytesPerToken:F0}, {last.BytesPerToken:F0} | {offRate:F1} | {onRate:F1} | {onRate / offRate:F2}x |"));
                }
            }
        }

        return Task.FromResult(0);
    }

    /// <summary>
    /// The rewriting prompt holds the answer, and the run generates as many tokens as the text to repeat has (the length
    /// of the rewrite); the free prompt only starts a story and runs for <paramref name="tokens"/> tokens.
    /// </summary>
    private static IEnumerable<(string Task, int[] Prompt, int AnswerTokens)> Tasks(OnnxGenAIModel model, string name, int tokens, CancellationToken cancellationToken)
    {
        if (name == "110m")
        {
            // Random weights: the same shapes as text, as ids. The model does not copy, so drafts are accepted only
            // where its own output repeats; the row measures what a verification run costs on a bandwidth-bound model.
            var random = new Random(110);
            int[] passage = [.. Enumerable.Range(0, 200).Select(_ => random.Next(3, model.VocabularySize))];
            yield return ("rewriting", [1, .. passage, 2, .. passage[..8]], tokens);
            yield return ("free", [1, .. passage[..6]], tokens);
            yield break;
        }

        string start = "Once upon a time, there was";
        int storyTokens = model.Tokenizer.Encode(Story, addBos: false).Length - model.Tokenizer.Encode(start, addBos: false).Length;
        yield return ("rewriting", model.Tokenizer.Encode("Repeat the story: " + Story + "\nAgain: " + start), storyTokens);

        // The model's own greedy story as the text to repeat: a model that can copy is asked to copy.
        using (var writer = model.CreateGenerator(model.Tokenizer.Encode("Once upon a time"), new GenerationOptions { Temperature = 0, MaxNewTokens = tokens }))
        {
            while (!writer.IsDone)
            {
                writer.GenerateNextToken(cancellationToken);
            }

            string own = "Once upon a time" + model.Tokenizer.Decode(writer.GeneratedTokens);
            yield return ("rewriting (own story)", model.Tokenizer.Encode("Repeat the story: " + own + "\nAgain: Once upon a time"), writer.GeneratedCount);
        }

        yield return ("free", model.Tokenizer.Encode("Once upon a time"), tokens);
    }

    private static Measurement Run(OnnxGenAIModel model, int[] prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        using var generator = model.CreateGenerator(prompt, options);
        generator.GenerateNextToken(cancellationToken); // prefill, not timed
        int runsAfterPrefill = generator.ModelRuns;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        while (!generator.IsDone)
        {
            generator.GenerateNextToken(cancellationToken);
        }

        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        int decodeTokens = generator.GeneratedCount - 1;
        int decodeRuns = generator.ModelRuns - runsAfterPrefill;
        double seconds = clock.Elapsed.TotalSeconds;
        return new Measurement(generator.GeneratedTokens.ToArray(), decodeTokens, decodeRuns, generator.DraftedTokens, generator.AcceptedDraftTokens,
            decodeTokens / seconds, seconds / Math.Max(1, decodeRuns), (double)allocated / Math.Max(1, decodeTokens));
    }

    private sealed record Measurement(int[] Tokens, int DecodeTokens, int DecodeRuns, int Drafted, int Accepted, double TokensPerSecond, double SecondsPerRun, double BytesPerToken);
}
