using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Benchmarks.Runtime;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.ModelBuilder;
using LlmKit.Models;

namespace LlmKit.Benchmarks.Constraints;

/// <summary>
/// <c>constraint</c>: the cost of constrained decoding. For JSON, a nested schema, a regex and a choice it samples with
/// and without the constraint, alternately in one run on one loaded model, and reports the constraint's time per token
/// (mask computation and application plus matcher advance, from <see cref="Generator.ConstraintTime"/>) with fresh
/// constraint instances (cold: automaton states and masks built on the way; median of <c>--cold</c> runs) and with one
/// instance used again (warm), the decode step with and without it, and the mask's share of the unconstrained step.
/// </summary>
internal sealed class ConstraintCommand : IBenchCommand
{
    private const string NestedSchema = """
        {"type":"object","properties":{
          "name":{"type":"string","pattern":"^[A-Z][a-z]{1,8}$"},
          "age":{"type":"integer","minimum":3,"maximum":112},
          "kind":{"enum":["cat","dog","bird"]},
          "notes":{"type":"string"},
          "tags":{"type":"array","items":{"type":"string","maxLength":12},"minItems":1,"maxItems":8},
          "owner":{"$ref":"#/$defs/person"}},
         "required":["name","age","kind","notes","tags","owner"],"additionalProperties":false,
         "$defs":{"person":{"type":"object","properties":{"first":{"type":"string"},"friend":{"anyOf":[{"$ref":"#/$defs/person"},{"type":"null"}]}},
                  "required":["first","friend"],"additionalProperties":false}}}
        """;

    public string Name => "constraint";

    public string Summary => "constrained decoding: mask us/token and decode step with/without, JSON, nested schema, regex, choice [--models 110m,stories] [--threads 1] [--tokens 128] [--rounds 5] [--cold 5]";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var models = Option(args, "--models", "110m,stories").Split(',');
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int tokens = int.Parse(Option(args, "--tokens", "128"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);
        int coldRuns = int.Parse(Option(args, "--cold", "5"), CultureInfo.InvariantCulture);

        Console.WriteLine($"# constraint — sampling (temperature 1, seeded), {threads} intra-op thread(s), up to {tokens} new tokens, {rounds} rounds (off/on alternating), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} logical CPUs");
        Console.WriteLine();
        Console.WriteLine("| model | vocab | constraint | new tokens (last run) | ended | constraint us/token, cold: median of fresh instances (max) | constraint us/token, warm (median) | step ms off (median) | step ms on (median) | constraint / step off |");
        Console.WriteLine("|---|---:|---|---:|---|---:|---:|---:|---:|---:|");
        foreach (string name in models)
        {
            string folder = name == "110m" ? BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, OnnxGraphForm.OrtGenAI) : BenchModels.Stories260K(OnnxGraphForm.OrtGenAI);
            using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, ReusePromptPrefixes = false });
            int[] prompt = model.Tokenizer.Encode("Once upon a time, a little girl named Lily wrote down what she saw:");

            // The token trie is built on the first constrained generation of a model, and the process compiles the
            // constrained decoding code on its first use: time both apart from the rows, with constraint instances of
            // their own (schema, regex, choice), so that "cold" below means a new constraint, not a new process.
            var clock = Stopwatch.StartNew();
            foreach (var warmUp in WarmUpConstraints())
            {
                Run(model, prompt, new GenerationOptions { Temperature = 1f, Seed = 0, MaxNewTokens = 24, Constraint = warmUp }, cancellationToken);
            }

            Console.WriteLine($"<!-- {name}: first constrained generations (token trie build and code compilation included): {clock.Elapsed.TotalMilliseconds:F0} ms -->");

            foreach (var (label, make) in Cases())
            {
                // Cold: the same seeded generation with a fresh instance each time, so every run builds the automaton's
                // states and masks anew; the median drops the odd run that a garbage collection or a neighbour hits.
                var off = new GenerationOptions { Temperature = 1f, Seed = 1, MaxNewTokens = tokens };
                var colds = new List<double>();
                OutputConstraint? constraint = null; // the last cold instance serves the warm rounds
                for (int run = 0; run < Math.Max(1, coldRuns); run++)
                {
                    constraint = make();
                    colds.Add(Run(model, prompt, off with { Constraint = constraint }, cancellationToken).ConstraintMicroseconds);
                }

                Run(model, prompt, off, cancellationToken); // warm-up of the unconstrained path
                var offRuns = new List<Measurement>();
                var onRuns = new List<Measurement>();
                for (int round = 0; round < rounds; round++)
                {
                    var seeded = new GenerationOptions { Temperature = 1f, Seed = round + 2, MaxNewTokens = tokens };
                    offRuns.Add(Run(model, prompt, seeded with { MinNewTokens = tokens }, cancellationToken));
                    onRuns.Add(Run(model, prompt, seeded with { Constraint = constraint }, cancellationToken));
                }

                double offStep = Median(offRuns.Select(m => m.StepMilliseconds));
                double onStep = Median(onRuns.Select(m => m.StepMilliseconds));
                double warm = Median(onRuns.Select(m => m.ConstraintMicroseconds));
                var last = onRuns[^1];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {model.VocabularySize} | {label} | {last.Tokens} | {last.Finish} | {Median(colds):F1} ({colds.Max():F1}) | {warm:F1} | {offStep:F2} | {onStep:F2} | {warm / 1000 / offStep * 100:F1}% |"));
                if (args.Contains("--show"))
                {
                    Console.WriteLine($"<!-- {label}: {last.Text.ReplaceLineEndings(" ")} -->");
                }
            }
        }

        return Task.FromResult(0);
    }

    private static IEnumerable<(string Label, Func<OutputConstraint> Make)> Cases()
    {
        // OutputConstraint.Json() is one shared instance (its automaton lives with the model); the empty schema is the
        // same language as a new instance each time, so its cold runs are cold.
        yield return ("JSON (any value)", () => OutputConstraint.JsonSchema("{}"));
        yield return ("nested JSON schema", () => OutputConstraint.JsonSchema(NestedSchema));
        yield return ("regex", () => OutputConstraint.Regex(@"[A-Z][a-z]{2,12}( [a-z]{1,12}){8,60}\."));
        yield return ("choice (12 options)", () => OutputConstraint.Choice(
            ["the cat sat on the mat", "a dog ran home", "Lily found a red ball", "Tom was very happy", "they played all day",
             "the sun was warm", "a bird sang a song", "mom baked a cake", "it began to rain", "the tree was tall",
             "a fish swam away", "everyone laughed"]));
    }

    private static IEnumerable<OutputConstraint> WarmUpConstraints()
    {
        yield return OutputConstraint.JsonSchema("""
            {"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":99},"label":{"type":"string","maxLength":4},
             "flags":{"type":"array","items":{"type":"boolean"},"maxItems":3},"next":{"anyOf":[{"type":"null"},{"type":"string"}]}},
             "required":["id","label","flags","next"],"additionalProperties":false}
            """);
        yield return OutputConstraint.Regex(@"[a-z]{1,4}(-[0-9]{1,3}){1,3}!");
        yield return OutputConstraint.Choice(["yes", "no", "maybe"]);
    }

    private static Measurement Run(OnnxGenAIModel model, int[] prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        using var generator = model.CreateGenerator(prompt, options);
        generator.GenerateNextToken(cancellationToken); // prefill, not timed
        var constraintAfterPrefill = generator.ConstraintTime;
        long start = Stopwatch.GetTimestamp();
        while (!generator.IsDone)
        {
            generator.GenerateNextToken(cancellationToken);
        }

        var elapsed = Stopwatch.GetElapsedTime(start);
        int steps = Math.Max(1, generator.GeneratedCount - 1);
        double constraintUs = (generator.ConstraintTime - constraintAfterPrefill).TotalMicroseconds / steps;
        return new Measurement(generator.GeneratedCount, elapsed.TotalMilliseconds / steps, constraintUs, generator.FinishReason!.Value, model.Tokenizer.Decode(generator.GeneratedTokens));
    }

    private sealed record Measurement(int Tokens, double StepMilliseconds, double ConstraintMicroseconds, GenerationFinishReason Finish, string Text);
}
