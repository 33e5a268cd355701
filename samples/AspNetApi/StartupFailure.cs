using System.Reflection;

namespace LlmKit.Samples.AspNetApi;

/// <summary>Turns an exception that stopped the server from starting into the one line printed for the user.</summary>
public static class StartupFailure
{
    /// <summary>The exception's message on one line, unwrapped from invocation and single-exception aggregate wrappers.</summary>
    /// <param name="exception">The startup failure.</param>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        while (exception is TargetInvocationException { InnerException: { } inner } || exception is AggregateException { InnerExceptions.Count: 1 })
        {
            exception = exception is AggregateException aggregate ? aggregate.InnerExceptions[0] : exception.InnerException!;
        }

        return string.Join(' ', exception.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
