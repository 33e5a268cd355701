using static LlmKit.Benchmarks.BenchArguments;
using System.Globalization;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>
/// <c>prefix</c>: time to first token of a chat turn whose history was already processed, with prompt-prefix reuse
/// on and off, measured alternately in one run on two instances of the same model folder. Each round sends the same
/// history plus a new 32-token message (so the history is the shared prefix) and generates 16 tokens.
/// </summary>
internal sealed class PrefixReuseCommand : IBenchCommand
{
    private const int MessageTokens = 32;
    private const int ReplyTokens = 16;

    public string Name => "prefix";

    public string Summary => "prompt-prefix KV reuse: TTFT of a turn after a processed history, reuse on vs off [--model 110m|stories] [--forms standard,ortgenai] [--history 256,768] [--threads 2] [--rounds 5]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string name = Option(args, "--model", "110m");
        var forms = Option(args, "--forms", "standard,ortgenai").Split(',').Select(f => f == "ortgenai" ? OnnxGraphForm.OrtGenAI : OnnxGraphForm.Standard).ToArray();
        int[] histories = Option(args, "--history", "256,768").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int threads = int.Parse(Option(args, "--threads", "2"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);

        Console.WriteLine($"# prefix — {name}, {threads} intra-op threads, {rounds} rounds, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine();
        Console.WriteLine("| model | form | history tokens | prompt tokens | reused tokens | TTFT reuse off, ms (median) | TTFT reuse on, ms (median) | off / on |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var form in forms)
        {
            string folder = name == "110m" ? BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, form) : BenchModels.Stories260K(form);
            using var on = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads });
            using var off = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, ReusePromptPrefixes = false });
            var options = new GenerationOptions { Temperature = 0, MaxNewTokens = ReplyTokens };
            foreach (int history in histories)
            {
                if (history + MessageTokens + ReplyTokens > on.MaxLength)
                {
                    throw new ArgumentException($"--history {history} does not fit the model's max length {on.MaxLength} with a {MessageTokens}-token message and {ReplyTokens}-token reply.");
                }

                // Token ids drawn from the vocabulary (seeded): the cost of a prefill does not depend on which ids.
                var rng = new Random(history);
                int[] past = [.. Enumerable.Range(0, history).Select(_ => rng.Next(3, on.VocabularySize))];
                await on.GenerateAsync(past, options, cancellationToken); // the earlier turns, processed once
                var offTimes = new List<double>();
                var onTimes = new List<double>();
                int reused = 0;
                for (int round = 0; round < rounds; round++)
                {
                    int[] prompt = [.. past, .. Enumerable.Range(0, MessageTokens).Select(_ => rng.Next(3, on.VocabularySize))];
                    var cold = await off.GenerateAsync(prompt, options, cancellationToken);
                    var warm = await on.GenerateAsync(prompt, options, cancellationToken);
                    offTimes.Add(cold.TimeToFirstToken.TotalMilliseconds);
                    onTimes.Add(warm.TimeToFirstToken.TotalMilliseconds);
                    reused = warm.CachedPromptTokenCount;
                }

                double offMs = Median(offTimes);
                double onMs = Median(onTimes);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {form} | {history} | {history + MessageTokens} | {reused} | {offMs:F1} | {onMs:F1} | {offMs / onMs:F1} |"));
            }
        }

        return 0;
    }


}
