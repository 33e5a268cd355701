using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Plugins.Compression;
using LlmKit.Plugins.FewShot.Metrics;
using LlmKit.Scoring;

namespace LlmKit.Benchmarks.Compression;

/// <summary>
/// <c>compress</c>: achieved ratio, speed and fidelity of <see cref="PromptCompressor"/> with the stories260K scorer,
/// against random token dropping at the same rate. Modes: <c>compress passkey</c> (see <see cref="PasskeyBench"/>), <c>compress retention</c> and <c>compress history</c> (see <see cref="RetentionBench"/>). Fidelity is ROUGE-L F1 between stories260K's greedy continuation
/// of the original prompt and of the compressed one. Options: <c>--quick</c> (fewer prompts), <c>--shared DIR</c>.
/// </summary>
internal sealed class CompressBenchCommand : IBenchCommand
{
    private static readonly int[] Lengths = [50, 200, 1000, 4000, 8000];
    private static readonly double[] Rates = [0.5, 0.33];

    public string Name => "compress";

    public string Summary => "prompt compression: achieved ratio, ms per 1K tokens, ROUGE-L fidelity vs random dropping (stories260K)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        bool quick = args.Contains("--quick");
        int continuationTokens = int.Parse(Option(args, "--continuation", "48"), CultureInfo.InvariantCulture);
        float corpusTemperature = float.Parse(Option(args, "--corpus-temperature", "1"), CultureInfo.InvariantCulture);

        string shared = SharedFolder(args);
        string folder = ModelFolder(args, shared);
        using OnnxGenAIModel model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Task<string> ContinueAsync(string prompt) => GreedyContinuationAsync(model, prompt, continuationTokens, cancellationToken);
        var scorer = new OnnxTokenScorer(model);
        if (args.Length > 0 && args[0] == "passkey")
        {
            return await PasskeyBench.RunAsync(args, model, scorer, shared, cancellationToken);
        }

        if (args.Length > 0 && args[0] == "retention")
        {
            string[] stories = await PasskeyBench.StorySentencesAsync(model, 12_000, cancellationToken);
            return await RetentionBench.RetentionAsync(args, scorer, stories, PasskeyBench.ReviewSentences(shared), cancellationToken);
        }

        if (args.Length > 0 && args[0] == "history")
        {
            return await RetentionBench.HistoryAsync(args, model, scorer, PasskeyBench.ReviewSentences(shared), cancellationToken);
        }

        var ours = new PromptCompressor(scorer);
        var oursTokens = new PromptCompressor(scorer, new PromptCompressionOptions { PruneWholeWords = false });
        var random = new PromptCompressor(new RandomTokenScorer(scorer));
        var randomTokens = new PromptCompressor(new RandomTokenScorer(scorer), new PromptCompressionOptions { PruneWholeWords = false });

        Console.WriteLine($"# compress benchmark — scorer {Path.GetFileName(folder.TrimEnd('/'))} (window {scorer.MaxSequenceLength}), {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine();
        MeasureCounting(ours, model, cancellationToken);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Building an in-domain corpus: stories sampled from the model (temperature {corpusTemperature}, seeds 1..n)..."));
        var corpus = await StoryCorpusAsync(model, quick ? 12_000 : 40_000, corpusTemperature, cancellationToken);
        Console.WriteLine();
        Console.WriteLine("ROUGE-L F1 of the greedy continuation vs the original prompt's; 'words'/'tokens' = whole-word or single-token pruning; random = same pipeline with random scores.");
        Console.WriteLine();
        Console.WriteLine("| tokens | rate | prompts | achieved ratio, ours (min–max) | achieved ratio, random | ms / 1K input tokens | ROUGE-L ours, words | ROUGE-L ours, tokens | ROUGE-L random words | ROUGE-L random tokens | ROUGE-L unrelated prompt (floor) | ours (words) vs random tokens, wins/ties/losses |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var rng = new Random(42);
        var samples = new List<(double Rate, string Original, string Ours, string Random, string Tokens)>();
        foreach (int length in Lengths)
        {
            // 24 prompts per row: ROUGE-L of a 48-token continuation varies a lot from prompt to prompt, and with
            // 3-4 prompts the long rows were decided by noise.
            int prompts = quick ? (length >= 4000 ? 1 : 3) : 24;
            foreach (double rate in Rates)
            {
                var ratios = new List<double>();
                var randomRatios = new List<double>();
                var msPer1K = new List<double>();
                var fidelity = new List<double>();
                var randomFidelity = new List<double>();
                var tokenFidelity = new List<double>();
                var randomTokenFidelity = new List<double>();
                var floor = new List<double>();
                for (int p = 0; p < prompts; p++)
                {
                    string prompt = corpus.Slice(ours, length, rng.Next(corpus.Count));
                    await ours.CompressAsync(prompt, CompressionTarget.Rate(rate), cancellationToken); // warm, then time
                    var clock = Stopwatch.StartNew();
                    CompressionResult compressed = await ours.CompressAsync(prompt, CompressionTarget.Rate(rate), cancellationToken);
                    clock.Stop();
                    CompressionResult dropped = await random.CompressAsync(prompt, CompressionTarget.Rate(rate), cancellationToken);
                    CompressionResult tokenLevel = await oursTokens.CompressAsync(prompt, CompressionTarget.Rate(rate), cancellationToken);
                    CompressionResult droppedTokens = await randomTokens.CompressAsync(prompt, CompressionTarget.Rate(rate), cancellationToken);
                    if (length == 200 && p == 0)
                    {
                        samples.Add((rate, prompt, compressed.Text, dropped.Text, tokenLevel.Text));
                    }
                    ratios.Add(compressed.Ratio);
                    randomRatios.Add(dropped.Ratio);
                    msPer1K.Add(clock.Elapsed.TotalMilliseconds / (compressed.OriginalTokens / 1000.0));

                    string reference = await ContinueAsync(prompt);
                    fidelity.Add(RougeL.Score(await ContinueAsync(compressed.Text), reference).F1);
                    randomFidelity.Add(RougeL.Score(await ContinueAsync(dropped.Text), reference).F1);
                    tokenFidelity.Add(RougeL.Score(await ContinueAsync(tokenLevel.Text), reference).F1);
                    randomTokenFidelity.Add(RougeL.Score(await ContinueAsync(droppedTokens.Text), reference).F1);

                    // The metric's resolution: how close the continuation of an unrelated, uncompressed prompt gets.
                    string unrelated = corpus.Slice(ours, length, rng.Next(corpus.Count));
                    floor.Add(RougeL.Score(await ContinueAsync(unrelated), reference).F1);
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {length} | {rate:0.00} | {prompts} | {ratios.Average():0.000} ({ratios.Min():0.000}–{ratios.Max():0.000}) | {randomRatios.Average():0.000} | {msPer1K.Average():0} | {fidelity.Average():0.000} ± {StandardError(fidelity):0.000} | {tokenFidelity.Average():0.000} | {randomFidelity.Average():0.000} | {randomTokenFidelity.Average():0.000} ± {StandardError(randomTokenFidelity):0.000} | {floor.Average():0.000} ± {StandardError(floor):0.000} | {PairedWins(fidelity, randomTokenFidelity)} |"));
            }
        }

        foreach ((double rate, string original, string oursText, string randomText, string tokenText) in samples)
        {
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Sample, 200 tokens at rate {rate:0.00}:"));
            Console.WriteLine($"  original: {original}");
            Console.WriteLine($"  ours (words): {oursText}");
            Console.WriteLine($"  ours (tokens): {tokenText}");
            Console.WriteLine($"  random words: {randomText}");
        }

        return 0;
    }

    private static double StandardError(List<double> values)
    {
        if (values.Count < 2)
        {
            return 0;
        }

        double mean = values.Average();
        double variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
        return Math.Sqrt(variance / values.Count);
    }

    /// <summary>Per-prompt comparison: "wins/ties/losses" of the first list against the second.</summary>
    private static string PairedWins(List<double> ours, List<double> baseline)
    {
        int wins = ours.Zip(baseline).Count(pair => pair.First > pair.Second);
        int ties = ours.Zip(baseline).Count(pair => pair.First == pair.Second);
        return $"{wins}/{ties}/{ours.Count - wins - ties}";
    }

    private static void MeasureCounting(PromptCompressor compressor, OnnxGenAIModel model, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var sampler = new Random(1);
        string[] words = ["the", "little", "girl", "named", "Lily", "loved", "to", "play", "outside", "in", "park", "one", "day", "she", "saw", "a", "big", "red", "ball."];
        while (text.Length < 100_000)
        {
            text.Append(words[sampler.Next(words.Length)]).Append(' ');
        }

        string hundredKb = text.ToString(0, 100_000);
        var cold = Stopwatch.StartNew();
        new PromptCompressor(compressor.Scorer).CountTokens(hundredKb);
        double coldMs = cold.Elapsed.TotalMilliseconds;
        var direct = Stopwatch.StartNew();
        model.Tokenizer.Inner.CountTokens(hundredKb);
        double directMs = direct.Elapsed.TotalMilliseconds;
        compressor.CountTokens(hundredKb);
        var times = new List<double>();
        int count = 0;
        for (int i = 0; i < 10; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            count = compressor.CountTokens(hundredKb);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Token counting, 100,000 characters ({count} tokens, {model.Tokenizer.Kind} tokenizer): PromptCompressor.CountTokens median {times[5]:0.0} ms, best {times[0]:0.0} ms over 10 warm runs; first (cold-cache) count {coldMs:0.0} ms; the tokenizer's own CountTokens {directMs:0.0} ms."));
        Console.WriteLine();
    }

    private static async Task<string> GreedyContinuationAsync(OnnxGenAIModel model, string prompt, int continuationTokens, CancellationToken cancellationToken)
    {
        // The model's window is 512: keep the prompt's last tokens so prompt + continuation fit.
        int[] ids = model.Tokenizer.Encode(prompt);
        int room = model.MaxLength - continuationTokens - 1;
        if (ids.Length > room)
        {
            ids = [ids[0], .. ids[^(room - 1)..]];
        }

        GenerationResult result = await model.GenerateAsync(ids, new GenerationOptions { MaxNewTokens = continuationTokens, Temperature = 0 }, cancellationToken);
        return result.Text;
    }

    private static async Task<StoryCorpus> StoryCorpusAsync(OnnxGenAIModel model, int tokens, float temperature, CancellationToken cancellationToken)
    {
        var stories = new List<string>();
        int total = 0;
        for (int seed = 1; total < tokens; seed++)
        {
            GenerationResult story = await model.GenerateAsync("Once upon a time", new GenerationOptions { MaxNewTokens = 400, Temperature = temperature, Seed = seed }, cancellationToken);
            string text = ("Once upon a time" + story.Text).Replace('\n', ' ').Trim();
            stories.Add(text);
            total += model.Tokenizer.CountTokens(text);
        }

        return new StoryCorpus(string.Join(' ', stories));
    }

    /// <summary><c>--model DIR</c> (an ONNX GenAI folder) or stories260K converted from the shared fixtures.</summary>
    private static string ModelFolder(string[] args, string shared)
    {
        int at = Array.IndexOf(args, "--model");
        if (at >= 0 && at + 1 < args.Length)
        {
            return args[at + 1];
        }

        string folder = Path.Combine(Path.GetTempPath(), "llmkit-bench", "stories260K");
        if (!File.Exists(Path.Combine(folder, "genai_config.json")))
        {
            Llama2cConverter.Convert(new Llama2cConversionRequest(
                Path.Combine(shared, "models", "stories260K", "stories260K.bin"),
                Path.Combine(shared, "models", "stories260K", "tok512.bin"),
                folder,
                Force: true));
        }

        return folder;
    }

    private static string SharedFolder(string[] args)
    {
        int at = Array.IndexOf(args, "--shared");
        if (at >= 0 && at + 1 < args.Length)
        {
            return args[at + 1];
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable("LLMKIT_SHARED");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
            }
        }

        throw new DirectoryNotFoundException("Could not find the shared fixtures folder; pass --shared DIR or set LLMKIT_SHARED.");
    }

    /// <summary>A long text; prompts are word-aligned slices of it with an exact token count.</summary>
    private sealed class StoryCorpus(string text)
    {
        public int Count => text.Length;

        public string Slice(PromptCompressor counter, int tokens, int start)
        {
            start = text.IndexOf(' ', Math.Min(start, text.Length / 2)) + 1;
            string rest = text[start..] + " " + text[..start];
            int end = counter.TargetTokenizer.GetIndexByTokenCount(rest, tokens, out _, out _);
            return rest[..end];
        }
    }

    /// <summary>The baseline: the same pipeline with seeded random log-probabilities, i.e. random token dropping.</summary>
    private sealed class RandomTokenScorer(ITokenScorer inner) : ITokenScorer
    {
        private int _calls;

        public Microsoft.ML.Tokenizers.Tokenizer Tokenizer => inner.Tokenizer;

        public int MaxSequenceLength => inner.MaxSequenceLength;

        public Task<TokenScores> ScoreAsync(string prompt, string continuation, CancellationToken cancellationToken = default) => inner.ScoreAsync(prompt, continuation, cancellationToken);

        public Task<IReadOnlyList<TokenScores>> ScoreManyAsync(string prompt, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default) => inner.ScoreManyAsync(prompt, continuations, cancellationToken);

        public Task<float[]> ScoreTokensAsync(IReadOnlyList<int> contextTokenIds, IReadOnlyList<int> tokenIds, CancellationToken cancellationToken = default)
        {
            var rng = new Random(Interlocked.Increment(ref _calls));
            return Task.FromResult(tokenIds.Select(_ => (float)-rng.NextDouble() * 10).ToArray());
        }
    }
}
