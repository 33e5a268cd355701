using static LlmKit.Benchmarks.BenchArguments;
using System.Globalization;
using LlmKit.Chat;
using LlmKit.Embeddings;
using LlmKit.Models;
using LlmKit.Plugins.Compression;
using LlmKit.Plugins.Compression.History;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;

namespace LlmKit.Benchmarks.Compression;

/// <summary>
/// <c>compress retention</c>: QA-style prompts (review or story filler with two labelled "needed" fact sentences and a
/// question about them); per method and rate, how many needed segments survive (every content word kept) and the mean
/// embedding cosine between each needed segment and what is left of it. Embeddings: LlmKit's
/// <see cref="HashingEmbeddingGenerator"/> by default, all-MiniLM-L6-v2 with <c>--embeddings minilm</c>. <c>compress history</c>: a 40-turn chat whose
/// turn 3 states "my order number is 4471" and whose turn 40 asks for it; each history reducer at 256/512/1,024 tokens.
/// </summary>
internal static class RetentionBench
{
    /// <summary>Two needed facts and the question that needs both.</summary>
    private static readonly (string First, string Second, string Question)[] Facts =
    [
        ("Lily's cat is called Pepper and she is grey.", "Pepper sleeps in a basket by the kitchen window.", "What is Lily's cat called and where does Pepper sleep?"),
        ("The harbour ferry leaves at seven every morning.", "Tickets for the ferry are sold at the green kiosk.", "When does the harbour ferry leave and where are tickets sold?"),
        ("Grandpa planted three apple trees behind the barn.", "The apple trees behind the barn give sweet red apples.", "What did Grandpa plant behind the barn and what do the trees give?"),
        ("The museum is closed on Mondays for cleaning.", "Students get into the museum free on Fridays.", "When is the museum closed and when do students get in free?"),
        ("Ben keeps his blue kite in the garden shed.", "The kite string broke last summer at the beach.", "Where does Ben keep his blue kite and what happened to the string?"),
        ("The bakery on Elm Street sells cherry pies.", "Cherry pies at the bakery cost four dollars each.", "What does the bakery on Elm Street sell and what do the pies cost?"),
        ("Our team meeting moved to the small room upstairs.", "The small room upstairs has no projector.", "Where did the team meeting move and what does that room lack?"),
        ("Mia's brother is a pilot who flies to Canada.", "He brings Mia maple candy from Canada.", "What is Mia's brother and what does he bring her from Canada?"),
        ("The library lends tablets for two weeks.", "A lost library tablet costs a fine of fifty dollars.", "How long does the library lend tablets and what is the fine for a lost one?"),
        ("The garden hose is stored under the back porch.", "The hose leaks near the brass tap.", "Where is the garden hose stored and where does it leak?"),
    ];

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "is", "are", "was", "in", "on", "at", "of", "to", "and", "for", "by", "it", "he", "she", "his", "her", "who", "has", "no", "get", "into", "from", "with", "every", "each",
    };

    public static async Task<int> RetentionAsync(string[] args, ITokenScorer scorer, string[] stories, string[] reviews, CancellationToken cancellationToken)
    {
        int tokens = int.Parse(Option(args, "--tokens", "1000"), CultureInfo.InvariantCulture);
        int prompts = int.Parse(Option(args, "--prompts", "20"), CultureInfo.InvariantCulture);
        double[] rates = Option(args, "--rates", "0.5,0.2,0.1,0.05").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var ours = new PromptCompressor(scorer);
        // The cosine column's generator: --embeddings hashing|minilm|DIR (the plugin benchmarks' switch).
        using var sentenceEncoder = LlmKit.Benchmarks.Embeddings.BenchEmbeddings.Create(Option(args, "--embeddings", "hashing"));
        IEmbeddingGenerator<string, Embedding<float>> embeddings = sentenceEncoder ?? (IEmbeddingGenerator<string, Embedding<float>>)new HashingEmbeddingGenerator();
        string described = LlmKit.Benchmarks.Embeddings.BenchEmbeddings.Describe(sentenceEncoder, "HashingEmbeddingGenerator (word and character n-grams, 1,024 dims)");
        string[] methods = ["ours-question", "ours-no-question", "random-drop", "truncate-last-n"];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# compress retention — {prompts} QA prompts of ~{tokens} tokens (even: story filler, odd: review filler), two needed sentences each at random depths; cosine embeddings: {described}; default compressor options (KeepDigits on)."));
        Console.WriteLine();
        Console.WriteLine("| rate | " + string.Join(" | ", methods.Select(m => $"{m} needed kept | cosine")) + " |");
        Console.WriteLine("| ---: | " + string.Join(" | ", methods.Select(_ => "---: | ---:")) + " |");
        foreach (double rate in rates)
        {
            var cells = new List<string>();
            foreach (string method in methods)
            {
                int kept = 0, total = 0;
                var cosines = new List<double>();
                for (int p = 0; p < prompts; p++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var rng = new Random(unchecked((p * 31) + 3)); // stable across runs (HashCode.Combine is randomised per process)
                    (string first, string second, string question) = Facts[p % Facts.Length];
                    string[] pool = p % 2 == 0 ? stories : reviews;
                    var sentences = new List<string>();
                    while (ours.CountTokens(string.Join(' ', sentences)) < tokens)
                    {
                        sentences.Add(pool[rng.Next(pool.Length)]);
                    }

                    sentences.Insert(rng.Next(sentences.Count + 1), first);
                    sentences.Insert(rng.Next(sentences.Count + 1), second);
                    string context = string.Join(' ', sentences);
                    int[] ids = [.. scorer.Tokenizer.EncodeToIds(context)];
                    string output = method switch
                    {
                        "ours-question" => (await ours.CompressAsync(new PromptParts(null, [context], null) { Query = question }, CompressionTarget.Rate(rate), cancellationToken)).Text,
                        "ours-no-question" => (await ours.CompressAsync(context, CompressionTarget.Rate(rate), cancellationToken)).Text,
                        "random-drop" => scorer.Tokenizer.Decode(Enumerable.Range(0, ids.Length).OrderBy(_ => rng.Next()).Take((int)Math.Round(rate * ids.Length)).Order().Select(i => ids[i])) ?? string.Empty,
                        _ => scorer.Tokenizer.Decode(ids[^(int)Math.Round(rate * ids.Length)..]) ?? string.Empty,
                    };

                    bool[] keptWords = AlignWords(context, output, out string[] words);
                    foreach (string needed in new[] { first, second })
                    {
                        int at = context.IndexOf(needed, StringComparison.Ordinal);
                        int firstWord = context[..at].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
                        string[] neededWords = needed.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        var left = new List<string>();
                        bool allContent = true;
                        for (int w = 0; w < neededWords.Length; w++)
                        {
                            bool k = keptWords[firstWord + w];
                            if (k)
                            {
                                left.Add(words[firstWord + w]);
                            }
                            else if (!StopWords.Contains(Normal(neededWords[w])))
                            {
                                allContent = false;
                            }
                        }

                        kept += allContent ? 1 : 0;
                        total++;
                        GeneratedEmbeddings<Embedding<float>> pair = await embeddings.GenerateAsync([needed, string.Join(' ', left)], cancellationToken: cancellationToken);
                        cosines.Add(System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(pair[0].Vector.Span, pair[1].Vector.Span) is float c && float.IsFinite(c) ? c : 0);
                    }
                }

                cells.Add(string.Create(CultureInfo.InvariantCulture, $"{kept}/{total} | {cosines.Average():0.000}"));
            }

            Console.WriteLine($"| {RateLabel(rate)} | {string.Join(" | ", cells)} |");
        }

        return 0;
    }

    public static async Task<int> HistoryAsync(string[] args, OnnxGenAIModel model, ITokenScorer scorer, string[] reviews, CancellationToken cancellationToken)
    {
        int[] budgets = Option(args, "--budgets", "256,512,1024").Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var rng = new Random(40);
        const string instruction = "You are the support assistant of a small web shop. Answer briefly.";
        var messages = new List<ChatMessage> { new(ChatRole.System, instruction) };
        for (int turn = 1; turn <= 40; turn++)
        {
            string user = turn switch
            {
                3 => "My parcel has not arrived yet; my order number is 4471.",
                40 => "What was my order number again?",
                _ => reviews[rng.Next(reviews.Length)],
            };
            messages.Add(new ChatMessage(ChatRole.User, user));
            if (turn < 40)
            {
                messages.Add(new ChatMessage(ChatRole.Assistant, reviews[rng.Next(reviews.Length)]));
            }
        }

        var compressor = new PromptCompressor(scorer);
        var chat = new OnnxChatClient(model);
        int totalTokens = messages.Sum(m => compressor.CountTokens(m.Text) + 4);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# compress history — 40 turns ({messages.Count} messages, {totalTokens} tokens with 4 per message), turn 3 states \"my order number is 4471\", turn 40 asks for it. Counted with the stories260K tokenizer. The summariser is stories260K through OnnxChatClient (a story model, not an instruction model)."));
        Console.WriteLine();
        Console.WriteLine("| reducer | " + string.Join(" | ", budgets.Select(b => $"{b} tokens: 4471 kept? (messages, tokens after)")) + " |");
        Console.WriteLine("| --- | " + string.Join(" | ", budgets.Select(_ => "---")) + " |");
        string[] reducers = ["token-budget truncation", "compressing (question-aware)", "compressing (no question)", "summarising (stories260K)"];
        foreach (string name in reducers)
        {
            var cells = new List<string>();
            foreach (int budget in budgets)
            {
                IChatReducer reducer = name switch
                {
                    "token-budget truncation" => new TokenBudgetTruncationReducer(scorer.Tokenizer, new HistoryReducerOptions { MaxTokens = budget }),
                    "compressing (question-aware)" => new CompressingHistoryReducer(compressor, new CompressingHistoryReducerOptions { MaxTokens = budget }),
                    "compressing (no question)" => new CompressingHistoryReducer(compressor, new CompressingHistoryReducerOptions { MaxTokens = budget, QuestionAware = false }),
                    _ => new SummarizingHistoryReducer(chat, scorer.Tokenizer, new SummarizingHistoryReducerOptions { MaxTokens = budget, SummaryMaxOutputTokens = Math.Min(256, budget / 4) }),
                };
                List<ChatMessage> reduced;
                try
                {
                    reduced = [.. await reducer.ReduceAsync(messages, cancellationToken)];
                }
                catch (InvalidOperationException ex)
                {
                    Console.Error.WriteLine($"{name} at {budget}: {ex.Message}");
                    cells.Add("fails (transcript exceeds the summariser's 512-token window)");
                    continue;
                }

                bool kept = reduced.Take(reduced.Count - 1).Any(m => m.Text.Contains("4471", StringComparison.Ordinal));
                int after = reduced.Sum(m => compressor.CountTokens(m.Text) + 4);
                cells.Add(string.Create(CultureInfo.InvariantCulture, $"{(kept ? "kept" : "lost")} ({reduced.Count}, {after})"));
            }

            Console.WriteLine($"| {name} | {string.Join(" | ", cells)} |");
        }

        return 0;
    }

    private static string Normal(string word) => new string(word.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();

    /// <summary>Which words of <paramref name="original"/> survive in <paramref name="compressed"/>: a longest common subsequence of whitespace-separated words (punctuation ignored).</summary>
    private static bool[] AlignWords(string original, string compressed, out string[] words)
    {
        words = original.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] a = words.Select(Normal).ToArray();
        string[] b = compressed.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(Normal).ToArray();
        var table = new int[a.Length + 1, b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
        {
            for (int j = b.Length - 1; j >= 0; j--)
            {
                table[i, j] = a[i].Length > 0 && a[i] == b[j] ? table[i + 1, j + 1] + 1 : Math.Max(table[i + 1, j], table[i, j + 1]);
            }
        }

        var kept = new bool[a.Length];
        for (int i = 0, j = 0; i < a.Length && j < b.Length;)
        {
            if (a[i].Length > 0 && a[i] == b[j])
            {
                kept[i++] = true;
                j++;
            }
            else if (table[i + 1, j] >= table[i, j + 1])
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return kept;
    }
}
