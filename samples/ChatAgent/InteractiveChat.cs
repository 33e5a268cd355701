using System.Text;
using LlmKit.Chat;
using LlmKit.Models;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace ChatAgent;

/// <summary>
/// The interactive console chat: load progress, streamed answers, tok/s after each answer. Ctrl+C stops an answer.
/// The history is trimmed to the model's context (oldest turns first, the system message kept), and a message too
/// long for the context is reported without ending the session. Reads lines with Console.ReadLine, so piped stdin works.
/// </summary>
internal static class InteractiveChat
{
    public static async Task<int> RunAsync(ChatAgentSettings settings, CancellationToken cancellationToken)
    {
        OnnxGenAIModel? model = null;
        AnsiConsole.Status().Spinner(Spinner.Known.Dots).Start("Loading the model...", context =>
            model = ModelStartup.Load(settings.ModelPath, message => context.Status(Markup.Escape(message))));

        using var loaded = model!;
        var client = new OnnxChatClient(loaded, new OnnxChatClientOptions { ChatTemplate = settings.EffectiveTemplate, DefaultGeneration = settings.Generation });
        var window = new ConversationWindow(loaded, client.Template, settings.Generation.MaxNewTokens);
        var answerOptions = new ChatOptions { MaxOutputTokens = window.ReplyTokens };
        AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(loaded.ModelId)}[/] · {client.Template.Kind} template · loaded in {loaded.LoadTime.TotalMilliseconds:F0} ms").LeftJustified());
        AnsiConsole.MarkupLine($"[grey]Context {window.MaxLength} tokens: history up to {window.PromptBudget}, answers up to {window.ReplyTokens}; the oldest turns are dropped to fit.[/]");
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

            var message = new ChatMessage(ChatRole.User, line);
            int before = history.Count + 1;
            try
            {
                if (TooLong(window, history, message) is { } tooLong)
                {
                    Report(tooLong);
                    continue;
                }

                history = await window.FitAsync([.. history, message], cancellationToken);
            }
            catch (ArgumentException ex)
            {
                // The template rejects the conversation (its role rules): this message is not sent, the session goes on.
                Report(ex.Message.Split(" (Parameter", 2)[0]);
                continue;
            }

            if (history.Count < before)
            {
                AnsiConsole.MarkupLine($"[grey]({before - history.Count} earlier messages dropped to fit the context; the system message is kept.)[/]");
            }

            AnsiConsole.Markup("[blue]bot>[/] ");
            var answer = new StringBuilder();
            var stats = new ResponseStats();
            using (answering = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                try
                {
                    await foreach (var update in client.GetStreamingResponseAsync(history, answerOptions, answering.Token))
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
                catch (ArgumentException ex)
                {
                    // Last guard (e.g. roles a template rejects): this message is not answered, the conversation goes on.
                    answering = null;
                    history.Remove(message);
                    AnsiConsole.WriteLine();
                    Report(ex.Message.Split(" (Parameter", 2)[0]);
                    continue;
                }
            }

            answering = null;
            history.Add(new ChatMessage(ChatRole.Assistant, answer.ToString()));
            AnsiConsole.WriteLine();
            AnsiConsole.MarkupLine($"[grey]{stats.OutputTokens} tokens · {stats.TokensPerSecond:F1} tok/s · {stats.Elapsed.TotalMilliseconds:F0} ms · first token {stats.FirstToken.TotalMilliseconds:F0} ms ({stats.CachedInputTokens} of {stats.InputTokens} prompt tokens cached) · {stats.FinishReason}[/]");
        }

        return 0;
    }

    /// <summary>Why <paramref name="message"/> cannot be answered even with every earlier turn dropped, or null when it can.</summary>
    private static string? TooLong(ConversationWindow window, List<ChatMessage> history, ChatMessage message)
    {
        var alone = history.Where(m => m.Role == ChatRole.System).Take(1).Append(message).ToList();
        int tokens = window.CountPromptTokens(alone);
        return tokens <= window.PromptBudget
            ? null
            : $"Message too long: {tokens} tokens{(alone.Count > 1 ? " with the system message" : "")}, over the {window.PromptBudget} a turn may use " +
              $"(context {window.MaxLength}, {window.ReplyTokens} kept for the answer). Not sent; the conversation goes on.";
    }

    // Plain Console output (not Spectre markup) so the report stays one line, unwrapped, whatever the terminal width.
    private static void Report(string text) => Console.WriteLine($"chatagent: {text.ReplaceLineEndings(" ")}");
}
