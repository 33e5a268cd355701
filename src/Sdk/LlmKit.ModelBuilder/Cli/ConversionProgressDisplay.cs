using System.Globalization;
using Spectre.Console;

namespace LlmKit.ModelBuilder.Cli;

/// <summary>
/// Shows a Hugging Face conversion's progress: a Spectre.Console bar per phase when the tool writes to a terminal,
/// plain "phase done/total" lines otherwise (redirected output, logs, tests). Not thread-safe: reports come from the
/// converting thread.
/// </summary>
internal static class ConversionProgressDisplay
{
    /// <summary>Runs <paramref name="convert"/> with a progress sink suited to <paramref name="output"/>.</summary>
    public static T Run<T>(TextWriter output, Func<IProgress<HfConversionProgress>, T> convert)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!terminal)
        {
            return convert(new PlainLines(output));
        }

        T result = default!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context => result = convert(new Bars(context)));
        return result;
    }

    // IProgress<T> implementations here report synchronously (Progress<T> would post to a thread pool).
    private sealed class PlainLines(TextWriter output) : IProgress<HfConversionProgress>
    {
        public void Report(HfConversionProgress value) =>
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {value.Phase,-8} {value.Done}/{value.Total}"));
    }

    private sealed class Bars(ProgressContext context) : IProgress<HfConversionProgress>
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);

        public void Report(HfConversionProgress value)
        {
            if (!_tasks.TryGetValue(value.Phase, out var task))
            {
                task = context.AddTask(value.Phase, maxValue: Math.Max(1, value.Total));
                _tasks.Add(value.Phase, task);
            }

            task.MaxValue = Math.Max(1, value.Total);
            task.Value = value.Done;
            if (value.Done >= value.Total)
            {
                task.StopTask(); // freezes the phase's elapsed time
            }
        }
    }
}
