using System.Text;
using LlmKit.Chat;
using LlmKit.Models;
using LlmKit.Samples.Shared;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace ChatAgent;

/// <summary>The interactive console chat: load progress, streamed answers, tok/s after each answer. Ctrl+C stops an answer.</summary>
internal static class InteractiveChat
{
    public static async Task<int> RunAsync(ChatAgentSettings settings, CancellationToken cancellationToken)
    {
        OnnxGenAIModel? model = null;
        AnsiConsole.Status().Spinner(Spinner.Known.Dots).Start("Locating the model...", context =>
        {
            string folder = ModelLocator.Resolve(settings.ModelPath, message => context.Status(Markup.Escape(message)));
            context.Status($"Loading {Markup.Escape(folder)}...");
            model = OnnxGenAIModel.Load(folder);
        });

        using var loaded = model!;
        var client = new OnnxChatClient(loaded, new OnnxChatClientOptions { ChatTemplate = settings.EffectiveTemplate, DefaultGeneration = settings.Generation });
        AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(loaded.ModelId)}[/] · {client.Template.Kind} template · loaded in {loaded.LoadTime.TotalMilliseconds:F0} ms").LeftJustified());
        AnsiConsole.MarkupLine("[grey]Type a message. /reset clears the history, /exit quits, Ctrl+C stops an answer.[/]");

        var history = new List<ChatMessage>();
        if (settings.System is not null)
        {
            history.Add(new ChatMessage(ChatRole.System, settings.System));
        }

        CancellationTokenSource? answering = null;
        Console.CancelKeyPress += (_, e) =>
        {
            if (answering is { } current)
            {
                e.Cancel = true; // stop the answer, keep the session
                current.Cancel();
            }
        };

        while (!cancellationToken.IsCancellationRequested)
        {
            AnsiConsole.Markup("[green]you>[/] ");
            string? line = Console.ReadLine();
            if (line is null || line.Trim() is "/exit" or "/quit")
            {
                break;
            }

            if (line.Trim() == "/reset")
            {
                history.RemoveAll(m => m.Role != ChatRole.System);
                AnsiConsole.MarkupLine("[grey]History cleared.[/]");
                continue;
            }

            if (line.Length == 0)
            {
                continue;
            }

            history.Add(new ChatMessage(ChatRole.User, line));
            AnsiConsole.Markup("[blue]bot>[/] ");
            var answer = new StringBuilder();
            var stats = new ResponseStats();
            using (answering = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                try
                {
                    await foreach (var update in client.GetStreamingResponseAsync(history, cancellationToken: answering.Token))
                    {
                        stats.Observe(update);
                        answer.Append(update.Text);
                        AnsiConsole.Write(new Text(update.Text));
                    }
                }
                catch (OperationCanceledException)
                {
                    AnsiConsole.Markup(" [yellow](stopped)[/]");
                }
            }

            answering = null;
            history.Add(new ChatMessage(ChatRole.Assistant, answer.ToString()));
            AnsiConsole.WriteLine();
            AnsiConsole.MarkupLine($"[grey]{stats.OutputTokens} tokens · {stats.TokensPerSecond:F1} tok/s · {stats.Elapsed.TotalMilliseconds:F0} ms · first token {stats.FirstToken.TotalMilliseconds:F0} ms ({stats.CachedInputTokens} of {stats.InputTokens} prompt tokens cached) · {stats.FinishReason}[/]");
        }

        return 0;
    }
}
