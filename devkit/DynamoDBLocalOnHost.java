/*
 * AWS's DynamoDB Local, listening on one address instead of every interface.
 *
 *   java -Djava.library.path=DynamoDBLocal_lib -cp DynamoDBLocal.jar DynamoDBLocalOnHost.java \
 *        HOST [DynamoDB Local's own options: -port N -sharedDb -inMemory ...]
 *
 * DynamoDB Local 3.x has no option for a bind address: DynamoDBProxyServer builds Jetty's
 * `new Server(port)`, whose connector listens on all interfaces. This launcher lets DynamoDB
 * Local parse its own options and build its own server (ServerRunner's public
 * createServerFromCommandLineArgs), sets HOST on that server's connectors, then starts it.
 * Run by devkit/dynamodb.py as a single source file (Java 11+ compiles it in memory: the
 * runtime needs the jdk.compiler module, which Debian's openjdk-17-jre-headless has).
 *
 * Standard input is the parent's lifeline: when it closes (the parent exited, even by
 * SIGKILL) the server exits too, so no DynamoDB is ever left behind.
 */
import java.lang.reflect.Field;
import java.util.Arrays;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalOnHost {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: DynamoDBLocalOnHost HOST [DynamoDB Local options]");
            System.exit(2);
        }
        exitWhenStdinCloses();
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(
                Arrays.copyOfRange(args, 1, args.length));
        for (Connector connector : jetty(proxy).getConnectors()) {
            ((ServerConnector) connector).setHost(args[0]);
        }
        proxy.safeStart();  // unlike start(), throws when it cannot listen: the JVM exits 1
    }

    /** The Jetty server DynamoDBProxyServer keeps in a private field (found by type). */
    static Server jetty(DynamoDBProxyServer proxy) throws IllegalAccessException {
        for (Field field : DynamoDBProxyServer.class.getDeclaredFields()) {
            if (field.getType() == Server.class) {
                field.setAccessible(true);
                return (Server) field.get(proxy);
            }
        }
        throw new IllegalStateException(
                "this DynamoDB Local has no Jetty server field: cannot bind it to one address");
    }

    static void exitWhenStdinCloses() {
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() != -1) {
                    // the parent never writes; anything read is ignored
                }
            } catch (java.io.IOException ignored) {
                // a broken pipe means the parent is gone too
            }
            System.exit(0);
        }, "parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }
}
