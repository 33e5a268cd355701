using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LlmKit.Benchmarks.Runtime;
using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Benchmarks.Chat;

/// <summary>
/// What the chat adapters cost on top of the runtime: the same greedy generation (same prompt, same number of new
/// tokens) through the runtime directly, OnnxChatClient (whole and streamed), OnnxGenAIChatCompletionService called directly, and
/// Semantic Kernel's InvokePromptAsync on it (prompt rendering, parsing and function invocation included). Paths alternate within each round so drift hits all equally.
/// </summary>
internal sealed class ChatOverheadCommand : IBenchCommand
{
    public string Name => "chat";

    public string Summary => "chat adapter overhead vs the runtime: direct, IChatClient, IChatClient streaming, SK service, SK InvokePromptAsync [--models stories,110m] [--tokens 200] [--rounds 5] [--threads 1]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var models = Option(args, "--models", "stories").Split(',');
        int tokens = int.Parse(Option(args, "--tokens", "200"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option(args, "--rounds", "5"), CultureInfo.InvariantCulture);
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);

        Console.WriteLine($"greedy, prompt \"Once upon a time\", {tokens} new tokens, {rounds} rounds (+1 warm-up), {threads} intra-op thread(s); median wall time per request");
        Console.WriteLine();
        Console.WriteLine("| model | path | median ms | tok/s (new tokens / wall) | vs direct |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string name in models)
        {
            string folder = name == "110m"
                ? BenchModels.Synthetic(BenchModels.Synthetic110M, seed: 110, OnnxGraphForm.Standard)
                : BenchModels.Stories260K(OnnxGraphForm.Standard);
            using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads });
            await MeasureAsync(name, model, tokens, rounds, cancellationToken);
        }

        return 0;
    }

    private static async Task MeasureAsync(string name, OnnxGenAIModel model, int tokens, int rounds, CancellationToken cancellationToken)
    {
        const string prompt = "Once upon a time";
        var client = new OnnxChatClient(model);
        var builder = Kernel.CreateBuilder();
        var service = new OnnxGenAIChatCompletionService(client);
        builder.Services.AddSingleton<IChatCompletionService>(service);
        var history = new ChatHistory();
        history.AddUserMessage(prompt);
        var kernel = builder.Build();
        var chatOptions = new ChatOptions { Temperature = 0, MaxOutputTokens = tokens };
        var arguments = new KernelArguments(new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = tokens });
        var direct = new GenerationOptions { Temperature = 0, MaxNewTokens = tokens };

        // Each path returns its new-token count so a path that silently generated less would show up.
        var paths = new (string Name, Func<Task<int>> Run)[]
        {
            ("runtime GenerateAsync", async () => (await model.GenerateAsync(prompt, direct, cancellationToken)).GeneratedTokenCount),
            ("IChatClient GetResponseAsync", async () => (int)(await client.GetResponseAsync(prompt, chatOptions, cancellationToken)).Usage!.OutputTokenCount!),
            ("IChatClient streaming", async () =>
            {
                long count = 0;
                await foreach (var update in client.GetStreamingResponseAsync(prompt, chatOptions, cancellationToken))
                {
                    count = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details.OutputTokenCount ?? count;
                }

                return (int)count;
            }),
            ("SK GetChatMessageContentsAsync", async () =>
            {
                var reply = await service.GetChatMessageContentsAsync(history, arguments.ExecutionSettings!.Values.First(), kernel, cancellationToken);
                return (int)reply[0].Metadata!["OutputTokenCount"]!;
            }),
            ("SK InvokePromptAsync", async () =>
            {
                var result = await kernel.InvokePromptAsync(prompt, arguments, cancellationToken: cancellationToken);
                return (int)result.GetValue<ChatMessageContent>()!.Metadata!["OutputTokenCount"]!;
            }),
        };

        var times = paths.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round <= rounds; round++)
        {
            for (int p = 0; p < paths.Length; p++)
            {
                var clock = Stopwatch.StartNew();
                int generated = await paths[p].Run();
                double ms = clock.Elapsed.TotalMilliseconds;
                if (generated != tokens)
                {
                    throw new InvalidOperationException($"{paths[p].Name} generated {generated} tokens, expected {tokens} (EOS too early? lower --tokens).");
                }

                if (round > 0)
                {
                    times[p].Add(ms); // round 0 warms up JIT and the KV state pool
                }
            }
        }

        double baseline = Median(times[0]);
        for (int p = 0; p < paths.Length; p++)
        {
            double median = Median(times[p]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {paths[p].Name} | {median:F1} | {tokens / (median / 1000):F0} | {median / baseline:F3} |"));
        }
    }

}
